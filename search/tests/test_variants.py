"""Search finds a product by its variants' SKUs and option values, and by its own SKU; it lists
the product once, never its variants."""

import pytest

from catalog.tests.factories import ProductFactory, product_with_variants
from inventory.models import Stock
from search.selectors import SearchParams, normalise, search

pytestmark = pytest.mark.django_db


def _shirt(**fields):
    return product_with_variants(
        [(("S", "Red"), 5, None), (("M", "Blue"), 3, "25.00"), (("XL", "Red"), 40, None)],
        **fields,
    )


def test_search_finds_the_product_by_its_variants_words_and_skus():
    parent, (_s, medium_blue, extra_large) = _shirt()
    ProductFactory(name="Nordvik Red Kettle")
    for query in ("loomwell xl red", "t-shirt blue", medium_blue.sku, parent.sku):
        found = search(SearchParams(query=normalise(query)), record=False)
        assert [card["id"] for card in found.cards] == [parent.pk], query
    found = search(SearchParams(query="red"), record=False)
    assert {card["id"] for card in found.cards} >= {parent.pk}
    assert extra_large.pk not in {card["id"] for card in found.cards}


def test_a_new_variant_is_found_at_the_next_search(django_capture_on_commit_callbacks):
    from catalog import services
    from catalog.models import Product

    parent, _children = _shirt()
    query = SearchParams(query=normalise("loomwell green"))
    assert search(query, record=False).cards == []
    with django_capture_on_commit_callbacks(execute=True):
        green = Product(
            parent=parent, sku="TEE-L-GREEN", option_values={"Size": "L", "Colour": "Green"}
        )
        services.variant_prepare(parent, green)
        green.save()
    assert [card["id"] for card in search(query, record=False).cards] == [parent.pk]
    assert [
        card["id"] for card in search(SearchParams(query="tee l green"), record=False).cards
    ] == [parent.pk]


def test_in_stock_only_finds_a_product_through_its_active_variants_stock():
    stocked, _children = _shirt()
    sold_out, (small, medium, large) = _shirt(name="Loomwell Crew Hoodie")
    Stock.objects.filter(product__in=[small, medium]).update(quantity=0)
    large.is_active = False  # its 40 units are not for sale
    large.save()
    ProductFactory(name="Loomwell Socks", stock__quantity=0)
    ProductFactory(name="Loomwell Cap", stock__quantity=2)
    found = search(SearchParams(query="loomwell", in_stock=True), record=False)
    assert {card["name"] for card in found.cards} == {stocked.name, "Loomwell Cap"}
    assert found.total == 2
    everything = search(SearchParams(query="loomwell"), record=False)
    assert sold_out.pk in {card["id"] for card in everything.cards}
