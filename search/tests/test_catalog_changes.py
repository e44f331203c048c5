"""Search results follow what catalog.services tells the apps above it
(catalog.signals.products_changed, search.receivers): after a write commits, the next search
shows it.

Writes here go through QuerySet.update(), which sends no signals, so only the catalog service
under test invalidates; `django_capture_on_commit_callbacks(execute=True)` plays the commit.
"""

from decimal import Decimal

import pytest

from catalog import services
from catalog.models import Category, Product
from catalog.tests.factories import small_shop
from search.models import SearchTerm
from search.selectors import SearchParams, normalise, search

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    return small_shop()


def update(product: Product, **fields) -> None:
    """Change a product in PostgreSQL without signals (so without any invalidation)."""
    Product.objects.filter(pk=product.pk).update(**fields)


def rename(category: Category, name: str) -> Category:
    Category.objects.filter(pk=category.pk).update(name=name)
    category.refresh_from_db()
    return category


def found(query: str, **params) -> list[int]:
    """The ids of the first results page of a search (not counted as a shopper's)."""
    result = search(SearchParams(normalise(query), **params), record=False)
    return [card["id"] for card in result.cards]


def test_price_only_change_reorders_price_sorted_search_and_keeps_other_results(
    shop, django_capture_on_commit_callbacks
):
    x1, lite = shop["x1"], shop["lite"]
    assert found("laptop", sort="price") == [lite.pk, x1.pk, shop["aero"].pk]
    assert found("zephyr") == []
    with django_capture_on_commit_callbacks(execute=True):
        update(lite, price=Decimal("999.00"), name="Quillon Zephyr Laptop")
        services.products_changed([lite.pk], price_only=True)
    assert found("laptop", sort="price") == [x1.pk, lite.pk, shop["aero"].pk]
    # Told only prices changed, the other results are kept: the rename is not searched yet.
    assert found("zephyr") == []


def test_change_expires_every_search_result(shop, django_capture_on_commit_callbacks):
    lite = shop["lite"]
    assert found("zephyr") == []
    with django_capture_on_commit_callbacks(execute=True):
        update(lite, name="Quillon Zephyr Laptop")
        services.products_changed([lite.pk])
    assert found("zephyr") == [lite.pk]


def test_search_for_a_renamed_category_finds_its_products_after_commit(
    shop, django_capture_on_commit_callbacks
):
    assert found("notebooks") == []
    with django_capture_on_commit_callbacks(execute=True):
        services.category_changed(rename(shop["laptops"], "Notebooks"))
    assert sorted(found("notebooks")) == sorted(
        p.pk for p in (shop["aero"], shop["x1"], shop["lite"])
    )


def test_catalog_changed_everything_rebuilds_the_search_vocabulary_after_commit(
    shop, django_capture_on_commit_callbacks
):
    update(shop["x1"], name="Nordvik Zephyr Laptop")
    with django_capture_on_commit_callbacks(execute=True):
        services.catalog_changed_everything()
        assert not SearchTerm.objects.filter(word="zephyr").exists()
    assert SearchTerm.objects.filter(word="zephyr").exists()
    assert SearchTerm.objects.filter(word="quillon").exists()


def test_price_change_percent_reorders_price_sorted_search_after_commit(
    shop, django_capture_on_commit_callbacks
):
    laptops = [shop["lite"].pk, shop["x1"].pk, shop["aero"].pk]
    assert found("laptop", sort="price") == laptops
    with django_capture_on_commit_callbacks(execute=True):
        services.product_price_change_percent([shop["aero"].pk], Decimal("-90"))  # 129.90
    assert found("laptop", sort="price") == [shop["aero"].pk, shop["lite"].pk, shop["x1"].pk]
