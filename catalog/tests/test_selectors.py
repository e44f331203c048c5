"""catalog.selectors against the test PostgreSQL and Redis: what each read returns, what it
leaves out, and that a second read is served from the shelf without SQL."""

import re
from decimal import Decimal

import pytest

from catalog import selectors, services
from catalog.models import Product
from catalog.selectors import category_page, home_page, product_cards, product_get, product_page
from inventory.models import Stock

from .factories import CategoryFactory, ProductFactory, ProductImageFactory, days_ago

pytestmark = pytest.mark.django_db

UNKNOWN_ID = 999_999_999


def card_names(html: str) -> list[str]:
    """The names on the product cards of a page, in page order."""
    return re.findall(r'<span class="card-name">([^<]*)</span>', html)


def section(html: str, start: str, end: str | None = None) -> str:
    """The part of a page from the first `start` to the next `end` (or to the end)."""
    html = html[html.index(start) :]
    return html[: html.index(end)] if end else html


def deactivate(*products: Product) -> None:
    Product.objects.filter(pk__in=[p.pk for p in products]).update(is_active=False)


# ---------------------------------------------------------------------------------------------
# product_get
# ---------------------------------------------------------------------------------------------


def test_product_get_returns_the_card_fields_of_an_active_product(shop):
    x1 = shop["x1"]
    ProductImageFactory(product=x1, position=1)
    first = ProductImageFactory(product=x1, position=0, image__width=900, image__height=900)
    stem = first.image.name.rsplit(".", 1)[0]
    assert product_get(x1.pk) == {
        "id": x1.pk,
        "name": "Nordvik X1 Laptop",
        "slug": "nordvik-x1",
        "brand": "Nordvik",
        "price": "899.00",
        "rating": 4.5,
        "reviews": 12,
        "category": [shop["laptops"].pk, "Laptops", "laptops"],
        # The first picture by position, at 480 pixels, and every width it has up to its own.
        "image": f"/media/renditions/v1/480/{stem}.webp",
        "srcset": ", ".join(f"/media/renditions/v1/{w}/{stem}.webp {w}w" for w in (240, 480, 800)),
        "tier": "r",
    }


def test_product_get_has_no_image_for_a_product_without_pictures(shop):
    assert product_get(shop["aero"].pk)["image"] is None


def test_product_get_marks_products_under_a_day_old_as_new():
    assert product_get(ProductFactory(created_at=days_ago(0.5)).pk)["tier"] == "n"
    assert product_get(ProductFactory(created_at=days_ago(1.5)).pk)["tier"] == "r"


def test_product_get_marks_ranked_products_as_popular(shop, flush_views):
    for _ in range(3):
        product_page("nordvik-slate")
    flush_views()
    assert services.popular_rank() == 1
    assert product_get(shop["slate"].pk)["tier"] == "p"
    assert product_get(shop["x1"].pk)["tier"] == "r"


def test_product_get_is_none_for_inactive_and_unknown_products(shop):
    deactivate(shop["lite"])
    assert product_get(shop["lite"].pk) is None
    assert product_get(UNKNOWN_ID) is None


def test_product_get_second_read_runs_no_sql(shop, django_assert_num_queries):
    deactivate(shop["lite"])
    first = [product_get(shop["x1"].pk), product_get(shop["lite"].pk), product_get(UNKNOWN_ID)]
    with django_assert_num_queries(0):
        again = [product_get(shop["x1"].pk), product_get(shop["lite"].pk), product_get(UNKNOWN_ID)]
    assert again == first
    assert again[0]["price"] == "899.00" and again[1:] == [None, None]


# ---------------------------------------------------------------------------------------------
# product_cards
# ---------------------------------------------------------------------------------------------


def test_product_cards_keep_the_order_asked_for(shop):
    order = [shop["studio"].pk, shop["aero"].pk, shop["lite"].pk, shop["x1"].pk]
    cards = product_cards(order)
    assert [c["id"] for c in cards] == order
    assert [c["name"] for c in cards] == [
        "Sonora Studio Headphones", "Altura Aero Laptop", "Quillon Lite Laptop",
        "Nordvik X1 Laptop",
    ]  # fmt: skip


def test_product_cards_skip_inactive_and_missing_products(shop):
    deactivate(shop["aero"])
    cards = product_cards([shop["x1"].pk, shop["aero"].pk, UNKNOWN_ID, shop["slate"].pk])
    assert [c["id"] for c in cards] == [shop["x1"].pk, shop["slate"].pk]


def test_product_cards_second_call_runs_no_sql(shop, django_assert_num_queries):
    deactivate(shop["aero"])
    ids = [shop["slate"].pk, shop["aero"].pk, UNKNOWN_ID, shop["x1"].pk]
    first = product_cards(ids)
    with django_assert_num_queries(0):
        again = product_cards(ids)
    assert again == first
    assert [c["price"] for c in again] == ["329.00", "899.00"]


def test_product_cards_of_nothing_is_empty_without_sql(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert product_cards([]) == []


# ---------------------------------------------------------------------------------------------
# product_page
# ---------------------------------------------------------------------------------------------


def test_product_page_is_none_for_an_unknown_or_inactive_slug(shop):
    deactivate(shop["x1"])
    assert product_page("no-such-product") is None
    assert product_page("nordvik-x1") is None


def test_product_page_shows_the_product_its_breadcrumb_and_price(shop):
    html = product_page("nordvik-x1").html
    assert "<h1>Nordvik X1 Laptop</h1>" in html
    assert '<p class="price big">$899.00</p>' in html
    assert "About nordvik-x1." in html
    assert '<a href="/c/computers/">Computers</a>' in html
    assert '<a href="/c/laptops/">Laptops</a>' in html
    assert f"<!--stock:{shop['x1'].pk}-->" in html  # the badge is filled per response


def test_product_page_stock_covers_the_product_and_its_related_products(shop):
    Stock.objects.filter(product=shop["x1"]).update(quantity=7)
    page = product_page("nordvik-x1")
    assert page.values["stock"] == {shop["x1"].pk: 7, shop["aero"].pk: 25, shop["lite"].pk: 0}


def test_product_page_stock_of_a_product_without_a_stock_row_is_zero():
    product = ProductFactory(slug="no-stock", stock=None)
    assert product_page("no-stock").values["stock"] == {product.pk: 0}


def test_product_page_relates_active_products_of_the_same_category_best_rated_first(shop):
    deactivate(shop["lite"])
    x2 = ProductFactory(name="Nordvik X2 Laptop", category=shop["laptops"], rating=Decimal("4.7"))
    page = product_page("nordvik-x1")
    html = page.html
    related = section(html, 'id="related"')
    assert card_names(related) == ["Altura Aero Laptop", "Nordvik X2 Laptop"]
    assert set(page.values["stock"]) == {shop["x1"].pk, shop["aero"].pk, x2.pk}
    assert "Nordvik Slate Tablet" not in html  # same department, other category
    assert "Sonora Studio Headphones" not in html


def test_product_page_relates_at_most_eight_products(shop):
    laptops = shop["laptops"]
    extra = [
        ProductFactory(name=f"Extra {i} Laptop", category=laptops, rating=Decimal(f"3.{i}"))
        for i in range(8)
    ]
    page = product_page("nordvik-x1")
    # Aero 4.8, Lite 3.9 and the six best extras (3.7 down to 3.2); 3.1 and 3.0 are left out.
    names = card_names(section(page.html, 'id="related"'))
    assert names == [
        "Altura Aero Laptop", "Quillon Lite Laptop",
        *(f"Extra {i} Laptop" for i in range(7, 1, -1)),
    ]  # fmt: skip
    assert len(page.values["stock"]) == 1 + selectors.RELATED_COUNT
    assert extra[0].pk not in page.values["stock"] and extra[1].pk not in page.values["stock"]


def test_product_page_without_related_products_has_no_related_section(shop):
    page = product_page("nordvik-slate")
    assert 'id="related"' not in page.html
    assert page.values["stock"] == {shop["slate"].pk: 25}


def test_product_page_views_count_towards_popularity_unless_told_not_to(shop, flush_views):
    for _ in range(3):
        product_page("nordvik-x1", record=False)
    product_page("nordvik-slate")
    flush_views()
    assert services.popular_rank() == 1
    assert product_get(shop["slate"].pk)["tier"] == "p"
    assert product_get(shop["x1"].pk)["tier"] == "r"


def test_product_page_hit_runs_no_sql(shop, django_assert_num_queries):
    first = product_page("nordvik-x1")
    assert product_page("no-such-product") is None
    with django_assert_num_queries(0):
        again = product_page("nordvik-x1")
        assert product_page("no-such-product") is None
    assert again == first
    assert "$899.00" in again.html


# ---------------------------------------------------------------------------------------------
# category_page
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sort", "page"),
    [("drop", 1), ("price ", 1), ("", 0), ("", -1), ("", selectors.MAX_PAGE + 1)],
)
def test_category_page_is_none_for_a_bad_sort_or_page_without_sql(
    shop, sort, page, django_assert_num_queries
):
    with django_assert_num_queries(0):
        assert category_page("laptops", sort, page) is None


def test_category_page_is_none_for_an_unknown_category():
    assert category_page("no-such-category", "", 1) is None


@pytest.mark.parametrize(
    ("sort", "names"),
    [
        ("", ["Altura Aero Laptop", "Nordvik X1 Laptop", "Nordvik Slate Tablet",
              "Quillon Lite Laptop"]),
        ("rating", ["Altura Aero Laptop", "Nordvik X1 Laptop", "Nordvik Slate Tablet",
                    "Quillon Lite Laptop"]),
        ("price", ["Nordvik Slate Tablet", "Quillon Lite Laptop", "Nordvik X1 Laptop",
                   "Altura Aero Laptop"]),
        ("-price", ["Altura Aero Laptop", "Nordvik X1 Laptop", "Quillon Lite Laptop",
                    "Nordvik Slate Tablet"]),
        ("new", ["Quillon Lite Laptop", "Nordvik Slate Tablet", "Nordvik X1 Laptop",
                 "Altura Aero Laptop"]),
    ],
)  # fmt: skip
def test_department_listing_shows_its_childrens_products_in_the_sort_order(shop, sort, names):
    page = category_page("computers", sort, 1)
    assert card_names(page.html) == names
    assert "4 products" in page.html
    assert "Sonora Studio Headphones" not in page.html  # another department


def test_department_listing_links_its_child_categories(shop):
    html = category_page("computers", "", 1).html
    chips = section(html, '<ul class="chips">', "</ul>")
    assert '<a href="/c/laptops/">Laptops</a>' in chips
    assert '<a href="/c/tablets/">Tablets</a>' in chips
    assert "Headphones" not in chips


def test_leaf_listing_shows_only_its_own_active_products_and_their_stock(shop):
    deactivate(shop["aero"])
    page = category_page("laptops", "price", 1)
    assert card_names(page.html) == ["Quillon Lite Laptop", "Nordvik X1 Laptop"]
    assert "2 products" in page.html
    assert page.values["stock"] == {shop["lite"].pk: 0, shop["x1"].pk: 25}


def test_listing_pages_hold_24_products_and_a_page_past_the_end_is_none():
    laptops = CategoryFactory(slug="laptops", leaf=True)
    products = [
        ProductFactory(name=f"Model {i:02d} Laptop", category=laptops, price=Decimal(500 + i))
        for i in range(30)
    ]
    first = category_page("laptops", "price", 1)
    assert card_names(first.html) == [f"Model {i:02d} Laptop" for i in range(24)]
    assert "30 products" in first.html and "Page 1 of 2" in first.html
    last = category_page("laptops", "-price", 2)
    assert card_names(last.html) == [f"Model {i:02d} Laptop" for i in range(5, -1, -1)]
    assert set(last.values["stock"]) == {p.pk for p in products[:6]}
    assert "Page 2 of 2" in last.html
    assert category_page("laptops", "price", 3) is None


def test_empty_category_has_one_empty_page():
    CategoryFactory(name="Drones", slug="drones", leaf=True)
    page = category_page("drones", "", 1)
    assert "<h1>Drones</h1>" in page.html and "0 products" in page.html
    assert card_names(page.html) == [] and page.values["stock"] == {}
    assert category_page("drones", "", 2) is None


def test_category_page_hit_runs_no_sql(shop, django_assert_num_queries):
    first = category_page("computers", "price", 1)
    assert category_page("computers", "price", 2) is None
    with django_assert_num_queries(0):
        again = category_page("computers", "price", 1)
        assert category_page("computers", "price", 2) is None
    assert again == first
    assert "$329.00" in again.html


# ---------------------------------------------------------------------------------------------
# home_page
# ---------------------------------------------------------------------------------------------


def popular_names(html: str) -> list[str]:
    return card_names(section(html, 'id="popular"', 'id="newest"'))


def newest_names(html: str) -> list[str]:
    return card_names(section(html, 'id="newest"'))


def test_home_page_without_views_shows_top_rated_and_newest_products(shop):
    html = home_page().html
    assert popular_names(html) == [
        "Altura Aero Laptop", "Sonora Studio Headphones", "Nordvik X1 Laptop",
        "Nordvik Slate Tablet", "Quillon Lite Laptop",
    ]  # fmt: skip
    assert newest_names(html) == [
        "Quillon Lite Laptop", "Nordvik Slate Tablet", "Nordvik X1 Laptop",
        "Altura Aero Laptop", "Sonora Studio Headphones",
    ]  # fmt: skip


def test_home_page_puts_the_most_viewed_products_first(shop, flush_views):
    for _ in range(2):
        product_page("quillon-lite")
    flush_views()
    services.popular_rank()
    assert popular_names(home_page().html) == [
        "Quillon Lite Laptop",  # the least rated, but the one shoppers look at
        "Altura Aero Laptop", "Sonora Studio Headphones", "Nordvik X1 Laptop",
        "Nordvik Slate Tablet",
    ]  # fmt: skip


def test_home_page_shows_eight_popular_and_eight_newest_active_products():
    leaf = CategoryFactory(leaf=True)
    products = [
        ProductFactory(
            name=f"Model {i} Laptop", category=leaf, rating=Decimal(f"4.{i}"),
            created_at=days_ago(i + 1),
        )
        for i in range(10)
    ]  # fmt: skip
    deactivate(products[8])
    page = home_page()
    html = page.html
    assert set(page.values["stock"]) == {p.pk for p in products} - {products[8].pk}
    assert popular_names(html) == [f"Model {i} Laptop" for i in (9, 7, 6, 5, 4, 3, 2, 1)]
    assert newest_names(html) == [f"Model {i} Laptop" for i in range(8)]
    assert "Model 8 Laptop" not in html


def test_home_page_lists_departments_but_not_their_categories(shop):
    nav = section(home_page().html, 'aria-label="Departments"', "</nav>")
    assert '<a href="/c/computers/">Computers</a>' in nav
    assert '<a href="/c/audio/">Audio</a>' in nav
    assert "Laptops" not in nav and "Headphones" not in nav


def test_home_page_hit_runs_no_sql_and_carries_the_stock_of_its_products(
    shop, django_assert_num_queries
):
    first = home_page()
    with django_assert_num_queries(0):
        again = home_page()
    assert again == first
    assert again.values["stock"] == {
        shop["aero"].pk: 25, shop["studio"].pk: 25, shop["x1"].pk: 25, shop["slate"].pk: 25,
        shop["lite"].pk: 0,
    }  # fmt: skip


def test_home_page_of_an_empty_catalog_renders():
    page = home_page()
    assert "Everyday things, delivered." in page.html
    assert card_names(page.html) == [] and page.values["stock"] == {}
