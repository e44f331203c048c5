"""catalog.services against the test PostgreSQL and Redis: after a write commits, the next read
of every cached page and card that shows the change shows it, and the apps above are told
(catalog.signals.products_changed; search's reaction is tested in search/tests).

Writes here go through QuerySet.update(), which sends no signals, so only the service under
test invalidates; `django_capture_on_commit_callbacks(execute=True)` plays the commit.
"""

from decimal import Decimal
from functools import partial

import pytest
from django.contrib.postgres.search import SearchQuery

from catalog import cache, selectors, services, signals
from catalog.models import Category, Product
from catalog.selectors import category_page, home_page, product_cards, product_get, product_page

from .factories import CategoryFactory, ProductFactory, days_ago

pytestmark = pytest.mark.django_db

UNKNOWN_ID = 999_999_999


def update(product: Product, **fields) -> None:
    """Change a product in PostgreSQL without signals (so without any invalidation)."""
    Product.objects.filter(pk=product.pk).update(**fields)


def price(product: Product) -> Decimal:
    return Product.objects.values_list("price", flat=True).get(pk=product.pk)


def matches(product: Product, word: str) -> bool:
    """Whether the product's stored search document matches `word`."""
    query = SearchQuery(word, config="english")
    return Product.objects.filter(pk=product.pk, search_vector=query).exists()


# ---------------------------------------------------------------------------------------------
# products_changed
# ---------------------------------------------------------------------------------------------


def test_price_change_shows_on_cached_product_page_after_commit(
    shop, django_capture_on_commit_callbacks
):
    assert "$899.00" in product_page("nordvik-x1").html
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        update(shop["x1"], price=Decimal("799.00"))
        services.products_changed([shop["x1"].pk])
        assert "$899.00" in product_page("nordvik-x1").html  # not before the commit
    assert callbacks
    html = product_page("nordvik-x1").html
    assert "$799.00" in html and "$899.00" not in html


def test_price_change_shows_on_cached_cards_listings_and_related_pages(
    shop, django_capture_on_commit_callbacks
):
    x1 = shop["x1"]
    reads = {
        "card": lambda: product_get(x1.pk)["price"],
        "cards": lambda: product_cards([shop["aero"].pk, x1.pk])[1]["price"],
        "leaf": lambda: category_page("laptops", "", 1).html,
        "department": lambda: category_page("computers", "price", 1).html,
        "home": lambda: home_page().html,
        "related": lambda: product_page("altura-aero").html,  # X1 is among its related products
    }
    assert all("899.00" in read() for read in reads.values())
    with django_capture_on_commit_callbacks(execute=True):
        update(x1, price=Decimal("799.00"))
        services.products_changed([x1.pk])
    for name, read in reads.items():
        assert "799.00" in read() and "899.00" not in read(), name


def test_product_entry_is_written_through_after_commit(
    shop, django_capture_on_commit_callbacks, django_assert_num_queries
):
    product_get(shop["x1"].pk)
    with django_capture_on_commit_callbacks(execute=True):
        update(shop["x1"], name="Nordvik X1 Pro Laptop")
        services.products_changed([shop["x1"].pk])
    with django_assert_num_queries(0):
        assert product_get(shop["x1"].pk)["name"] == "Nordvik X1 Pro Laptop"


def test_rename_shows_on_cached_product_page_and_department_listing(
    shop, django_capture_on_commit_callbacks
):
    assert "Nordvik X1 Laptop" in category_page("computers", "", 1).html
    assert "<h1>Nordvik X1 Laptop</h1>" in product_page("nordvik-x1").html
    with django_capture_on_commit_callbacks(execute=True):
        update(shop["x1"], name="Nordvik X1 Pro Laptop")
        services.products_changed([shop["x1"].pk])
    assert "Nordvik X1 Pro Laptop" in category_page("computers", "", 1).html
    assert "<h1>Nordvik X1 Pro Laptop</h1>" in product_page("nordvik-x1").html


def test_moved_product_leaves_the_old_listing_it_is_told_of_and_joins_the_new_one(
    shop, django_capture_on_commit_callbacks
):
    x1 = shop["x1"]
    assert "Nordvik X1 Laptop" in category_page("laptops", "", 1).html
    assert "Nordvik X1 Laptop" not in category_page("tablets", "", 1).html
    with django_capture_on_commit_callbacks(execute=True):
        update(x1, category=shop["tablets"])
        services.products_changed([x1.pk], [shop["laptops"].pk])
    assert "Nordvik X1 Laptop" not in category_page("laptops", "", 1).html
    assert "Nordvik X1 Laptop" in category_page("tablets", "", 1).html
    assert product_get(x1.pk)["category"] == [shop["tablets"].pk, "Tablets", "tablets"]


def test_deactivated_product_disappears_from_cached_reads(shop, django_capture_on_commit_callbacks):
    x1 = shop["x1"]
    product_page("nordvik-x1")
    assert "Nordvik X1 Laptop" in category_page("laptops", "", 1).html
    with django_capture_on_commit_callbacks(execute=True):
        update(x1, is_active=False)
        services.products_changed([x1.pk])
    assert product_get(x1.pk) is None
    assert product_page("nordvik-x1") is None
    assert "Nordvik X1 Laptop" not in category_page("laptops", "", 1).html
    assert "Nordvik X1 Laptop" not in product_page("altura-aero").html


def test_new_product_replaces_a_cached_miss_of_its_slug_after_commit(
    shop, django_capture_on_commit_callbacks
):
    assert product_page("nordvik-x9") is None
    # The factory's save queues its own invalidation for a commit that never comes here.
    x9 = ProductFactory(name="Nordvik X9 Laptop", slug="nordvik-x9", category=shop["laptops"])
    assert product_page("nordvik-x9") is None  # the miss is cached
    with django_capture_on_commit_callbacks(execute=True):
        services.products_changed([x9.pk])
    assert "<h1>Nordvik X9 Laptop</h1>" in product_page("nordvik-x9").html
    assert "Nordvik X9 Laptop" in category_page("laptops", "", 1).html


# ---------------------------------------------------------------------------------------------
# category_changed
# ---------------------------------------------------------------------------------------------


def rename(category: Category, name: str) -> Category:
    Category.objects.filter(pk=category.pk).update(name=name)
    category.refresh_from_db()
    return category


def test_renamed_category_shows_on_cached_product_pages_and_listings(
    shop, django_capture_on_commit_callbacks
):
    reads = {
        "product page": lambda: product_page("nordvik-x1").html,
        "leaf listing": lambda: category_page("laptops", "", 1).html,
        "department listing": lambda: category_page("computers", "", 1).html,
    }
    assert all("Laptops" in read() for read in reads.values())
    assert product_get(shop["x1"].pk)["category"][1] == "Laptops"
    with django_capture_on_commit_callbacks(execute=True):
        services.category_changed(rename(shop["laptops"], "Notebooks"))
        assert "Laptops" in product_page("nordvik-x1").html  # not before the commit
    for name, read in reads.items():
        assert "Notebooks" in read() and "Laptops" not in read(), name
    assert product_get(shop["x1"].pk)["category"][1] == "Notebooks"


def test_renamed_department_shows_on_home_and_on_its_childrens_pages(
    shop, django_capture_on_commit_callbacks
):
    reads = [
        lambda: home_page().html,
        lambda: category_page("laptops", "", 1).html,
        lambda: product_page("nordvik-slate").html,
    ]
    assert all("Computers" in read() for read in reads)
    with django_capture_on_commit_callbacks(execute=True):
        services.category_changed(rename(shop["computers"], "Workstations"))
    for read in reads:
        html = read()
        assert "Workstations" in html and "Computers" not in html


def search_vector(product: Product) -> str:
    return Product.objects.values_list("search_vector", flat=True).get(pk=product.pk)


def test_renamed_category_recomputes_its_products_search_documents(shop):
    x1, slate = shop["x1"], shop["slate"]
    before, untouched = search_vector(x1), search_vector(slate)
    assert not matches(x1, "notebooks")
    services.category_changed(rename(shop["laptops"], "Notebooks"))
    assert search_vector(x1) != before
    assert matches(x1, "notebooks")
    assert search_vector(slate) == untouched  # another category


def test_renamed_department_recomputes_its_childrens_products_search_documents(shop):
    studio = shop["studio"]
    assert matches(studio, "audio") and not matches(studio, "sound")
    services.category_changed(rename(shop["audio"], "Sound"))
    assert matches(studio, "sound") and not matches(studio, "audio")
    assert not matches(shop["x1"], "sound")


def test_moved_category_leaves_its_old_department_and_joins_the_new_one(
    shop, django_capture_on_commit_callbacks
):
    tablets = shop["tablets"]
    assert "Nordvik Slate Tablet" in category_page("computers", "", 1).html
    assert "Nordvik Slate Tablet" not in category_page("audio", "", 1).html
    with django_capture_on_commit_callbacks(execute=True):
        Category.objects.filter(pk=tablets.pk).update(parent=shop["audio"])
        tablets.refresh_from_db()
        services.category_changed(tablets, old_parent_id=shop["computers"].pk)
    assert "Nordvik Slate Tablet" not in category_page("computers", "", 1).html
    assert "Nordvik Slate Tablet" in category_page("audio", "", 1).html
    assert '<a href="/c/audio/">Audio</a>' in product_page("nordvik-slate").html
    assert matches(shop["slate"], "audio")


def test_new_category_replaces_a_cached_miss_of_its_listing_after_commit(
    shop, django_capture_on_commit_callbacks
):
    assert category_page("drones", "", 1) is None
    drones = CategoryFactory(name="Drones", slug="drones", parent=shop["computers"])
    assert category_page("drones", "", 1) is None  # the miss is cached
    with django_capture_on_commit_callbacks(execute=True):
        services.category_changed(drones)
    assert "<h1>Drones</h1>" in category_page("drones", "", 1).html


# ---------------------------------------------------------------------------------------------
# catalog_changed_everything
# ---------------------------------------------------------------------------------------------


def test_catalog_changed_everything_expires_every_cached_read_after_commit(
    shop, django_capture_on_commit_callbacks
):
    x1 = shop["x1"]
    reads = {
        "card": lambda: str(product_get(x1.pk)),
        "page": lambda: product_page("nordvik-x1").html,
        "listing": lambda: category_page("laptops", "", 1).html,
        "department": lambda: category_page("computers", "price", 1).html,
        "home": lambda: home_page().html,
        "related": lambda: product_page("altura-aero").html,
    }
    assert all("Nordvik X1 Laptop" in read() for read in reads.values())
    with django_capture_on_commit_callbacks(execute=True):
        # A bulk load: no signals, no per-product invalidation.
        update(x1, name="Nordvik Zephyr Laptop", price=Decimal("555.00"))
        services.catalog_changed_everything()
        assert "Nordvik X1 Laptop" in product_page("nordvik-x1").html  # not before the commit
    for name, read in reads.items():
        text = read()
        assert "Nordvik Zephyr Laptop" in text and "555.00" in text, name
        assert "Nordvik X1 Laptop" not in text, name


def test_catalog_changed_everything_finds_new_slugs_and_categories(
    shop, django_capture_on_commit_callbacks
):
    assert product_page("nordvik-x9") is None
    assert category_page("drones", "", 1) is None
    drones = CategoryFactory(name="Drones", slug="drones", parent=shop["computers"])
    ProductFactory(name="Nordvik X9 Drone", slug="nordvik-x9", category=drones)
    with django_capture_on_commit_callbacks(execute=True):
        services.catalog_changed_everything()
    assert "<h1>Nordvik X9 Drone</h1>" in product_page("nordvik-x9").html
    assert "Nordvik X9 Drone" in category_page("drones", "", 1).html


# ---------------------------------------------------------------------------------------------
# product_price_change_percent
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "percent", "after"),
    [
        ("100.00", "15", "115.00"),
        ("19.99", "-10", "17.99"),  # 17.991
        ("10.05", "-15", "8.54"),  # 8.5425
        ("33.33", "12.5", "37.50"),  # 37.49625
        ("0.05", "-50", "0.03"),  # 0.025: half up, not to even
        ("2.50", "-0.2", "2.50"),  # 2.495
        ("0.01", "-60", "0.01"),  # 0.004 rounds to 0.00: the floor is a cent
        ("0.02", "-99.9", "0.01"),
    ],
)
def test_price_change_percent_rounds_half_up_to_the_cent_with_a_cent_floor(before, percent, after):
    product = ProductFactory(price=Decimal(before))
    assert services.product_price_change_percent([product.pk], Decimal(percent)) == 1
    assert price(product) == Decimal(after)


@pytest.mark.parametrize("percent", ["-100", "-100.00", "-150"])
def test_price_change_percent_refuses_a_drop_of_100_percent_or_more(
    shop, percent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(ValueError):
        services.product_price_change_percent([shop["x1"].pk], Decimal(percent))
    assert price(shop["x1"]) == Decimal("899.00")
    assert callbacks == []  # nothing to invalidate


def test_price_change_percent_returns_how_many_products_it_changed_and_changes_only_them(shop):
    ids = [shop["x1"].pk, shop["aero"].pk, UNKNOWN_ID]
    assert services.product_price_change_percent(ids, Decimal("-10")) == 2
    assert price(shop["x1"]) == Decimal("809.10")
    assert price(shop["aero"]) == Decimal("1169.10")
    assert price(shop["slate"]) == Decimal("329.00")
    assert services.product_price_change_percent([], Decimal("-10")) == 0


def test_price_change_percent_touches_updated_at(shop):
    before = Product.objects.values_list("updated_at", flat=True).get(pk=shop["x1"].pk)
    services.product_price_change_percent([shop["x1"].pk], Decimal("5"))
    assert Product.objects.values_list("updated_at", flat=True).get(pk=shop["x1"].pk) > before


def test_price_change_percent_refreshes_cached_entries_after_commit(
    shop, django_capture_on_commit_callbacks, django_assert_num_queries
):
    x1 = shop["x1"]
    product_get(x1.pk)
    assert "$899.00" in product_page("nordvik-x1").html
    assert "$899.00" in category_page("laptops", "price", 1).html
    with django_capture_on_commit_callbacks(execute=True):
        services.product_price_change_percent([x1.pk], Decimal("-10"))
        assert product_get(x1.pk)["price"] == "899.00"  # not before the commit
    with django_assert_num_queries(0):  # written through
        assert product_get(x1.pk)["price"] == "809.10"
    assert "$809.10" in product_page("nordvik-x1").html
    html = category_page("laptops", "price", 1).html
    assert "$809.10" in html and "$899.00" not in html


# ---------------------------------------------------------------------------------------------
# popular_rank
# ---------------------------------------------------------------------------------------------


def view(slug: str, times: int) -> None:
    for _ in range(times):
        assert product_page(slug) is not None


def test_popular_rank_keeps_the_most_viewed_tenth_of_active_products(flush_views):
    products = [ProductFactory(created_at=days_ago(90)) for _ in range(20)]
    for times, product in zip((5, 3, 1), products, strict=False):
        view(product.slug, times)
    flush_views()
    assert services.popular_rank() == 2
    tiers = [product_get(p.pk)["tier"] for p in products[:4]]
    assert tiers == ["p", "p", "r", "r"]


def test_popular_rank_keeps_at_least_one_product(shop, flush_views):
    view("nordvik-slate", 2)
    view("nordvik-x1", 1)
    flush_views()
    assert services.popular_rank() == 1
    assert product_get(shop["slate"].pk)["tier"] == "p"
    assert product_get(shop["x1"].pk)["tier"] == "r"


def test_popular_rank_sizes_by_active_products_only(flush_views):
    products = [ProductFactory(created_at=days_ago(90)) for _ in range(20)]
    Product.objects.filter(pk__in=[p.pk for p in products[10:]]).update(is_active=False)
    for product in products[:3]:
        view(product.slug, 1)
    flush_views()
    assert services.popular_rank() == 1


def test_popular_rank_without_views_ranks_nothing(shop, flush_views):
    flush_views()
    assert services.popular_rank() == 0
    assert product_get(shop["x1"].pk)["tier"] == "r"


# ---------------------------------------------------------------------------------------------
# catalog_warm_plan
# ---------------------------------------------------------------------------------------------


def calls(plan) -> list[tuple]:
    """The plan as (label, function, arguments) for comparison."""
    return [
        (label, load.func, load.args, load.keywords)
        if isinstance(load, partial)
        else (label, load, (), {})
        for label, load, _key, _tail in plan
    ]


def test_warm_plan_is_home_then_every_listing_then_top_rated_entries_and_pages(shop):
    top = [shop["aero"], shop["studio"], shop["x1"]]
    plan = services.catalog_warm_plan(3)
    assert calls(plan) == [
        ("catalog.home", selectors.home_page, (), {}),
        *(
            ("catalog.listing", selectors.category_page, (slug, "", 1), {})
            for slug in ("computers", "laptops", "tablets", "audio", "headphones")
        ),
        ("catalog.product", selectors.product_cards, ([p.pk for p in top],), {}),
        *(("catalog.page", selectors.product_page, (p.slug,), {"record": False}) for p in top),
    ]
    # The pages are the tail, skipped while on the shelf; home and listings always run.
    assert [e.key for e in plan if e.key] == [cache.PAGE.key(p.slug) for p in top]
    assert [e.label for e in plan if e.tail] == ["catalog.product"] + ["catalog.page"] * 3


def test_warm_plan_puts_the_most_viewed_products_first(shop, flush_views):
    view("quillon-lite", 2)
    flush_views()
    services.popular_rank()
    plan = calls(services.catalog_warm_plan(3))
    assert plan[-4] == (
        "catalog.product",
        selectors.product_cards,
        ([shop["lite"].pk, shop["aero"].pk, shop["studio"].pk],),
        {},
    )
    assert [args for label, _, args, _ in plan if label == "catalog.page"] == [
        ("quillon-lite",), ("altura-aero",), ("sonora-studio",),
    ]  # fmt: skip


def test_warm_plan_of_more_products_than_the_catalog_has_takes_every_active_one(shop):
    update(shop["studio"], is_active=False)
    plan = calls(services.catalog_warm_plan(50))
    pages = [args[0] for label, _, args, _ in plan if label == "catalog.page"]
    assert pages == ["altura-aero", "nordvik-x1", "nordvik-slate", "quillon-lite"]


def test_running_the_warm_plan_leaves_home_listings_and_pages_as_hits(
    shop, django_assert_num_queries
):
    for entry in services.catalog_warm_plan(2):
        entry.load()
    with django_assert_num_queries(0):
        assert "Altura Aero Laptop" in home_page().html
        for slug in ("computers", "laptops", "tablets", "audio", "headphones"):
            assert category_page(slug, "", 1) is not None
        assert [c["id"] for c in product_cards([shop["aero"].pk, shop["studio"].pk])] == [
            shop["aero"].pk, shop["studio"].pk,
        ]  # fmt: skip
        assert "$1299.00" in product_page("altura-aero").html
        assert "$199.00" in product_page("sonora-studio").html


def test_running_the_warm_plan_counts_no_product_views(shop, flush_views):
    for entry in services.catalog_warm_plan(3):
        entry.load()
    flush_views()
    assert services.popular_rank() == 0  # warming is not shoppers looking


# ---------------------------------------------------------------------------------------------
# what the apps above are told
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def told():
    """The `change` of every catalog.signals.products_changed sent during the test."""
    changes: list[str] = []

    def receiver(sender, change, **kwargs):
        changes.append(change)

    signals.products_changed.connect(receiver, dispatch_uid="test.told")
    yield changes
    signals.products_changed.disconnect(dispatch_uid="test.told")


def test_the_apps_above_are_told_what_changed(shop, told):
    services.products_changed([shop["x1"].pk], price_only=True)
    services.products_changed([shop["x1"].pk])
    services.category_changed(shop["laptops"])
    services.catalog_changed_everything()
    services.product_price_change_percent([shop["aero"].pk], Decimal("-10"))
    assert told == ["prices", "products", "products", "everything", "prices"]
