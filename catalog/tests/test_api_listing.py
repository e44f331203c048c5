"""/api/v1/categories/<slug>: the category page's listing as JSON, from the same shelf entry."""

import pytest
from django_redis import get_redis_connection

from catalog.cache import LISTING

pytestmark = pytest.mark.django_db

API = "/api/v1/categories/"


def listing_keys() -> list[bytes]:
    return sorted(get_redis_connection("default").scan_iter(match=LISTING.key("*")))


def test_the_listing_takes_the_pages_filters_and_sort(shop, client):
    data = client.get(f"{API}computers", {"brand": "Nordvik", "sort": "price"}).json()
    assert data["category"] == {"name": "Computers", "slug": "computers"}
    assert data["filters"] == {"brand": "Nordvik", "price": None, "rating": None,
                               "in_stock": False}  # fmt: skip
    assert (data["sort"], data["page"], data["pages"], data["total"]) == ("price", 1, 1, 2)
    assert [(r["name"], r["price"], r["url"]) for r in data["results"]] == [
        ("Nordvik Slate Tablet", "329.00", "/p/nordvik-slate/"),
        ("Nordvik X1 Laptop", "899.00", "/p/nordvik-x1/"),
    ]
    # Each facet counts what the other filters keep, as on the page.
    brands = {b["value"]: b["count"] for b in data["facets"]["brands"]}
    assert brands == {"Altura": 1, "Nordvik": 2, "Quillon": 1}
    assert data["facets"]["in_stock"] == 2


def test_in_stock_and_price_filters_and_the_stock_of_each_card(shop, client):
    laptops = client.get(f"{API}laptops", {"sort": "-price"}).json()
    assert [(r["name"], r["in_stock"]) for r in laptops["results"]] == [
        ("Altura Aero Laptop", True), ("Nordvik X1 Laptop", True), ("Quillon Lite Laptop", False),
    ]  # fmt: skip
    stocked = client.get(f"{API}laptops", {"in_stock": "1", "price": "500-"}).json()
    assert [r["name"] for r in stocked["results"]] == ["Altura Aero Laptop", "Nordvik X1 Laptop"]


def test_a_hit_runs_no_sql_and_shares_the_pages_entry(shop, client, django_assert_num_queries):
    assert client.get("/c/laptops/?sort=price&in_stock=1").status_code == 200
    with django_assert_num_queries(0):
        data = client.get(f"{API}laptops", {"in_stock": "1", "sort": "price"}).json()
    assert [r["name"] for r in data["results"]] == ["Nordvik X1 Laptop", "Altura Aero Laptop"]
    assert len(listing_keys()) == 1, "the page and the API read one entry"


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("price=1-2", 400), ("rating=9", 400), ("in_stock=yes", 400), ("sort=drop", 400),
        ("brand=Nordvik&brand=Altura", 400), ("brand=Nokia", 404), ("brand=Nordvik&page=9", 404),
        ("page=abc", 404), ("page=0", 404),
    ],
)  # fmt: skip
def test_junk_values_are_4xx_in_json_and_store_nothing(shop, client, query, status):
    client.get(f"{API}laptops")
    before = listing_keys()
    response = client.get(f"{API}laptops?{query}")
    assert response.status_code == status
    assert "error" in response.json()
    assert listing_keys() == before


def test_an_unknown_category_is_a_404(shop, client):
    response = client.get(f"{API}no-such-category")
    assert response.status_code == 404 and "error" in response.json()
