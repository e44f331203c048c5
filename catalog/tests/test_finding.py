"""Finding things: the header's department menu, listing filters with counts, "Top rated"."""

import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import QueryDict
from django.test import Client
from django_redis import get_redis_connection

from catalog import services
from catalog.models import Category, Product, RatingPrior
from catalog.selectors import Filters
from inventory.models import Stock
from inventory.services import stock_release, stock_reserve

from .factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def gear():
    """One department, two leaves, eight products of three brands at known prices, ratings
    and stock: counts and orders below are worked out from this table.

    name        leaf    brand    price  rating reviews stock
    Alpha       cams    Orbis       20     4.6     100    5
    Bravo       cams    Orbis       40     3.2      30    0
    Charlie     cams    Lumen       80     4.1      12   10
    Delta       cams    Lumen      120     5.0       1    3
    Echo        lenses  Orbis      300     4.8     200    7
    Foxtrot     lenses  Vesta      600     2.5       8    0
    Golf        lenses  Vesta       45     0.0       0   12   (no reviews yet)
    Hotel       lenses  Lumen      700     4.4      50    2
    """
    dept = CategoryFactory(name="Photo", slug="photo", parent=None)
    cams = CategoryFactory(name="Cameras", slug="cams", parent=dept)
    lenses = CategoryFactory(name="Lenses", slug="lenses", parent=dept)
    rows = [
        ("Alpha", cams, "Orbis", "20", "4.6", 100, 5),
        ("Bravo", cams, "Orbis", "40", "3.2", 30, 0),
        ("Charlie", cams, "Lumen", "80", "4.1", 12, 10),
        ("Delta", cams, "Lumen", "120", "5.0", 1, 3),
        ("Echo", lenses, "Orbis", "300", "4.8", 200, 7),
        ("Foxtrot", lenses, "Vesta", "600", "2.5", 8, 0),
        ("Golf", lenses, "Vesta", "45", "0.0", 0, 12),
        ("Hotel", lenses, "Lumen", "700", "4.4", 50, 2),
    ]
    products = {
        name: ProductFactory(
            name=f"{name} Thing", slug=name.lower(), brand=brand, category=leaf,
            price=Decimal(price), rating=Decimal(rating), review_count=reviews,
            stock__quantity=stock,
        )
        for name, leaf, brand, price, rating, reviews, stock in rows
    }  # fmt: skip
    services.rating_prior_refresh()
    return {"dept": dept, "cams": cams, "lenses": lenses, **products}


def body(client: Client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, url
    return response.content.decode()


def names(html: str) -> list[str]:
    """The product names of a page's cards, in order."""
    return re.findall(r'<span class="card-name">(\w+) Thing</span>', html)


def count_of(html: str, label: str) -> int:
    """The count printed beside a filter choice, e.g. count_of(html, "Orbis")."""
    found = re.search(re.escape(label) + r' <span class="facet-count">\((\d+)\)</span>', html)
    assert found, label
    return int(found.group(1))


def listing_keys() -> set[bytes]:
    r = get_redis_connection("default")
    return set(r.scan_iter(match="catalog.listing:*", count=500))


# ---------------------------------------------------------------------------------------------
# Filters.parse: bounded values, one canonical form
# ---------------------------------------------------------------------------------------------


def test_filters_parse_offered_values_into_one_canonical_query_string():
    a = Filters.parse(QueryDict("in_stock=1&rating=4&utm_source=x&price=25-50&brand=Orbis"))
    b = Filters.parse(QueryDict("brand=Orbis&price=25-50&rating=4&in_stock=1&sort=price"))
    assert a == b == Filters("Orbis", "25-50", "4", True)
    assert a.query() == "brand=Orbis&price=25-50&rating=4&in_stock=1"
    assert Filters.parse(QueryDict("brand=&price=&rating=&in_stock=")) == Filters()
    assert not Filters()


@pytest.mark.parametrize(
    "query",
    ["price=10-20", "price=25-50&price=50-100", "rating=5", "rating=4.5", "in_stock=yes",
     "in_stock=0", "brand=" + "x" * 81, "brand=a%00b", "brand=Orbis&brand=Lumen"],
)  # fmt: skip
def test_filters_refuse_values_that_are_not_offered(query):
    assert Filters.parse(QueryDict(query)) is None


# ---------------------------------------------------------------------------------------------
# Each filter, with counts, combined with sort
# ---------------------------------------------------------------------------------------------


def test_unfiltered_department_counts_every_facet(gear, client):
    html = body(client, "/c/photo/")
    assert "8 products" in html
    assert (count_of(html, "Orbis"), count_of(html, "Lumen"), count_of(html, "Vesta")) == (3, 3, 2)
    assert count_of(html, "Under $25") == 1  # Alpha
    assert count_of(html, "$25 to $50") == 2  # Bravo, Golf
    assert count_of(html, "$500 and over") == 2  # Foxtrot, Hotel
    assert "$50 to $100" in html and "$250 to $500" in html
    assert count_of(html, "4 and up") == 5  # Alpha, Charlie, Delta, Echo, Hotel
    assert count_of(html, "3 and up") == 6
    assert count_of(html, "2 and up") == 7  # Golf, unreviewed, counts for no rating
    assert count_of(html, "In stock only") == 6


def test_brand_filter_sorted_by_price_and_its_counts(gear, client):
    html = body(client, "/c/photo/?brand=Lumen&sort=price")
    assert names(html) == ["Charlie", "Delta", "Hotel"]
    assert "3 products" in html
    # Each facet counts what the other filters keep: brands ignore the brand filter.
    assert count_of(html, "Orbis") == 3 and count_of(html, "Vesta") == 2
    assert count_of(html, "$50 to $100") == 1 and count_of(html, "$500 and over") == 1
    assert count_of(html, "4 and up") == 3 and count_of(html, "In stock only") == 3
    assert 'value="Lumen" checked' in html and '<option value="price" selected>' in html


def test_price_bucket_filter_sorted_high_to_low(gear, client):
    html = body(client, "/c/photo/?price=25-50&sort=-price")
    assert names(html) == ["Golf", "Bravo"]
    assert count_of(html, "Orbis") == 1 and count_of(html, "Vesta") == 1
    assert count_of(html, "Lumen") == 0, "a brand of the category with no match is listed as 0"


def test_rating_filter_keeps_products_rated_at_least_that(gear, client):
    html = body(client, "/c/photo/?rating=4&sort=price")
    assert names(html) == ["Alpha", "Charlie", "Delta", "Echo", "Hotel"]
    assert count_of(html, "Vesta") == 0


def test_in_stock_filter_with_brand_price_and_sort_combined(gear, client):
    html = body(client, "/c/photo/?in_stock=1&brand=Orbis&sort=price")
    assert names(html) == ["Alpha", "Echo"], "Bravo has none left"
    html = body(client, "/c/photo/?in_stock=1&brand=Lumen&price=500-&rating=4")
    assert names(html) == ["Hotel"] and "1 product<" in html
    assert "Clear all filters" in html
    html = body(client, "/c/lenses/?in_stock=1&brand=Vesta")
    assert names(html) == ["Golf"]


def test_filters_that_match_nothing_say_so(gear, client):
    html = body(client, "/c/cams/?brand=Orbis&price=500-")
    assert names(html) == [] and "No products match these filters" in html


def test_filtered_pages_link_their_pages_with_the_same_filters(gear, client):
    dept = gear["dept"]
    for i in range(30):
        ProductFactory(name=f"Extra{i} Thing", brand="Orbis", category=gear["cams"], price="30")
    html = body(client, f"/c/{dept.slug}/?sort=price&brand=Orbis")
    assert "Page 1 of 2" in html
    assert 'href="?brand=Orbis&amp;sort=price&amp;page=2"' in html
    assert "Page 2 of 2" in body(client, "/c/photo/?brand=Orbis&sort=price&page=2")


# ---------------------------------------------------------------------------------------------
# Cached, shared, bounded
# ---------------------------------------------------------------------------------------------


def test_a_filtered_listing_hit_runs_no_sql_and_is_shared_between_visitors(
    gear, client, django_assert_num_queries
):
    url = "/c/photo/?brand=Orbis&in_stock=1&sort=price"
    first = body(client, url)
    other = Client()
    with django_assert_num_queries(0):
        again = body(other, url)
        reordered = body(other, "/c/photo/?sort=price&in_stock=1&utm_campaign=x&brand=Orbis")
    assert names(again) == names(first) == names(reordered) == ["Alpha", "Echo"]
    assert len(listing_keys()) == 1, "equivalent URLs share one entry"


def test_junk_filter_values_are_404s_and_create_no_entries(gear, client):
    body(client, "/c/photo/?brand=Orbis")
    before = listing_keys()
    assert len(before) == 1
    junk = [
        "brand=Nokia{}", "price={}-{}", "rating=9{}", "in_stock={}", "brand=Orbis&page=9{}",
        "brand=Orbis{}&sort=price", "price=0-25&brand=x{}",
    ]  # fmt: skip
    for i in range(70):
        url = "/c/photo/?" + junk[i % len(junk)].format(i, i)
        assert client.get(url).status_code == 404, url
    # Unknown parameters are ignored: they share the page of the filters they come with.
    for i in range(20):
        assert client.get(f"/c/photo/?brand=Orbis&x{i}=1").status_code == 200
    assert listing_keys() == before


# ---------------------------------------------------------------------------------------------
# "In stock" stays exact while stock changes
# ---------------------------------------------------------------------------------------------


def test_a_sale_of_the_last_unit_drops_the_product_from_the_in_stock_listing(gear, client):
    url = "/c/photo/?in_stock=1&sort=price"
    assert "Delta" in names(body(client, url))
    assert "Delta" in names(body(client, url))  # from the shelf
    with transaction.atomic():
        stock_reserve({gear["Delta"].pk: 3})  # a checkout takes the last three
    html = body(client, url)
    assert "Delta" not in names(html) and count_of(html, "In stock only") == 5
    assert "Delta" in names(body(client, "/c/photo/?sort=price"))  # still listed, unfiltered
    with transaction.atomic():
        stock_release({gear["Delta"].pk: 1})  # the order was not paid: back in stock
    assert "Delta" in names(body(client, url))


def test_an_admin_stock_edit_to_zero_drops_the_product_at_the_next_request(gear, client):
    url = "/c/cams/?in_stock=1"
    assert "Alpha" in names(body(client, url))
    stock = Stock.objects.get(product=gear["Alpha"])
    stock.quantity = 0
    stock.save()  # as the admin's stock inline does
    assert "Alpha" not in names(body(client, url))
    assert "Alpha" not in names(body(client, "/c/photo/?in_stock=1")), "the department's too"


def test_a_sale_that_leaves_units_keeps_the_listing_cached(
    gear, client, django_assert_num_queries
):
    url = "/c/photo/?in_stock=1"
    body(client, url)
    with transaction.atomic():
        stock_reserve({gear["Charlie"].pk: 1})  # 10 -> 9: still in stock
    with django_assert_num_queries(0):
        html = body(client, url)
    assert "Only 9 left" in html, "the badge is live on a hit"


# ---------------------------------------------------------------------------------------------
# "Top rated": a Bayesian average
# ---------------------------------------------------------------------------------------------


def test_top_rated_puts_many_good_reviews_above_one_perfect_review(gear, client):
    prior = RatingPrior.objects.get(pk=1)
    # The mean of every review: sum(rating * reviews) / sum(reviews).
    assert prior.mean == pytest.approx(
        (4.6 * 100 + 3.2 * 30 + 4.1 * 12 + 5.0 + 4.8 * 200 + 2.5 * 8 + 4.4 * 50) / 401
    )
    # By the raw average Delta (5.0, one review) would come first.
    assert names(body(client, "/c/cams/")) == ["Alpha", "Delta", "Charlie", "Bravo"]
    top = names(body(client, "/c/photo/?sort=rating"))
    assert top == ["Echo", "Alpha", "Delta", "Hotel", "Charlie", "Foxtrot", "Bravo", "Golf"]
    assert names(body(client, "/c/photo/")) == top, "Top rated is the default order"


def test_a_rating_change_moves_the_product_at_the_next_request(gear, client):
    assert names(body(client, "/c/cams/"))[0] == "Alpha"
    delta = gear["Delta"]
    delta.rating, delta.review_count = Decimal("4.9"), 400
    delta.save()
    assert names(body(client, "/c/cams/"))[0] == "Delta"


def test_the_score_follows_every_write_path_and_the_prior_refresh(gear):
    Product.objects.filter(pk=gear["Golf"].pk).update(rating=Decimal("5.0"), review_count=1)
    prior = RatingPrior.objects.get(pk=1)
    golf = Product.objects.get(pk=gear["Golf"].pk)
    expected = (prior.weight * prior.mean + 5.0) / (prior.weight + 1)
    assert golf.rating_score == pytest.approx(expected), "the trigger, without a signal"
    assert services.rating_prior_refresh() > 0, "the mean moved: every score is renewed"
    assert services.rating_prior_refresh() == 0, "nothing to write the second time"


def test_unreviewed_products_show_no_stars(gear, client):
    html = body(client, "/c/lenses/?brand=Vesta&sort=price")
    card = html[html.index("Golf Thing") :]
    card = card[: card.index("</li>")]
    assert "No reviews yet" in card and "stars" not in card
    page = body(client, "/p/golf/")
    buy = page[page.index("<h1>Golf Thing</h1>") : page.index('class="buy-box"')]
    assert "No reviews yet" in buy and "stars" not in buy


# ---------------------------------------------------------------------------------------------
# The header's department menu
# ---------------------------------------------------------------------------------------------


def menu(html: str) -> str:
    start = html.index('<nav class="dept-menu"')
    return html[start : html.index("</nav>", start)]


def test_every_page_has_the_same_department_menu(gear, client):
    urls = ["/", "/c/photo/", "/p/alpha/", "/search/?q=thing", "/cart/", "/accounts/login/"]
    menus = {url: menu(body(client, url)) for url in urls}
    assert len(set(menus.values())) == 1, menus.keys()
    first = menus["/"]
    assert "<details>" in first and "<summary>" in first, "opens without JavaScript"
    assert '<a class="dept-name" href="/c/photo/">Photo</a>' in first
    assert '<a href="/c/lenses/">Lenses</a>' in first


def test_admin_category_changes_show_in_the_menu_at_the_next_request(gear, client):
    urls = ["/", "/c/cams/", "/p/alpha/", "/search/?q=thing", "/cart/"]
    for url in urls * 2:
        body(client, url)  # the second time from the shelf
    staff = Client()
    staff.force_login(get_user_model().objects.create_superuser("boss", "b@example.com", "pw"))
    lenses = gear["lenses"]
    form = {"name": "Lenses & Filters", "slug": "lenses", "parent": gear["dept"].pk,
            "description": "", "position": lenses.position, "is_active": "on"}  # fmt: skip
    response = staff.post(f"/admin/catalog/category/{lenses.pk}/change/", form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    for url in urls:
        assert "Lenses &amp; Filters</a>" in menu(body(client, url)), url

    form = {"name": "Tripods", "slug": "tripods", "parent": gear["dept"].pk,
            "description": "", "position": 9, "is_active": "on"}  # fmt: skip
    assert staff.post("/admin/catalog/category/add/", form).status_code == 302
    for url in urls:
        assert '<a href="/c/tripods/">Tripods</a>' in menu(body(client, url)), url

    tripods = Category.objects.get(slug="tripods")
    form["is_active"] = ""
    response = staff.post(f"/admin/catalog/category/{tripods.pk}/change/", form)
    assert response.status_code == 302
    for url in urls:
        assert "Tripods" not in menu(body(client, url)), url
    assert client.get("/c/tripods/").status_code == 404, "an inactive category has no listing"


def test_sort_and_filters_apply_on_change_and_keep_buttons_without_javascript(gear, client):
    html = body(client, "/c/photo/")
    assert '<form method="get" id="filters" class="filters" data-autosubmit>' in html
    assert '<select id="sort" name="sort" form="filters">' in html
    # shelf.js submits on change; the buttons are hidden only when it runs (.js .js-hide).
    assert '<button type="submit" class="js-hide">Apply filters</button>' in html
    assert '<button type="submit" form="filters" class="secondary js-hide">Sort</button>' in html
