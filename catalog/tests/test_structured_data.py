"""JSON-LD on the shared pages: what it says is what the page shows, stock included."""

import json
import re

import pytest
from django.test import Client

from inventory.models import Stock

from .factories import CategoryFactory, ProductFactory, ProductImageFactory, ReviewFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _jsonld(body: str) -> list[dict]:
    blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', body, re.S)
    return [json.loads(block) for block in blocks]


def _visible_rating(body: str) -> tuple[str, int]:
    rated = r'<span class="visually-hidden">Rated </span>([\d.]+)<span.*?>.*?</span> \((\d+)<'
    found = re.search(rated, body)
    return found.group(1), int(found.group(2))


@pytest.fixture
def product():
    laptops = CategoryFactory(name="Laptops", slug="laptops", leaf=True)
    product = ProductFactory(
        name="Nordvik X1 Laptop", slug="nordvik-x1", sku="NV-X1", brand="Nordvik",
        category=laptops, price="899.00", rating=0, review_count=0,
    )  # fmt: skip
    ProductImageFactory(product=product)
    for stars in (5, 4, 4):
        ReviewFactory(product=product, rating=stars)
    return product


def test_product_jsonld_matches_what_the_page_shows(product):
    body = Client().get(f"/p/{product.slug}/").content.decode()
    (data,) = _jsonld(body)
    assert data["@context"] == "https://schema.org" and data["@type"] == "Product"
    assert data["name"] == "Nordvik X1 Laptop" and f"<h1>{data['name']}</h1>" in body
    assert data["sku"] == "NV-X1" and f"<dd>{data['sku']}</dd>" in body
    assert data["brand"] == {"@type": "Brand", "name": "Nordvik"}
    assert data["url"] == f"/p/{product.slug}/"
    assert data["image"] == [product.images.get().picture()["src"]] and data["image"][0] in body
    offer = data["offers"]
    assert offer["@type"] == "Offer" and offer["priceCurrency"] == "USD"
    assert f'<p class="price big">${offer["price"]}</p>' in body and offer["price"] == "899.00"
    assert offer["availability"] == "https://schema.org/InStock" and "In stock" in body
    rating = data["aggregateRating"]
    assert (rating["ratingValue"], rating["reviewCount"]) == _visible_rating(body) == ("4.3", 3)
    assert (rating["bestRating"], rating["worstRating"]) == (5, 1)


def test_a_product_without_reviews_has_no_aggregate_rating():
    product = ProductFactory(rating=0, review_count=0)
    (data,) = _jsonld(Client().get(f"/p/{product.slug}/").content.decode())
    assert "aggregateRating" not in data


def test_stock_down_to_zero_flips_the_availability_of_the_warm_page(
    product, django_assert_num_queries
):
    client = Client()
    client.get(f"/p/{product.slug}/")
    stock = Stock.objects.get(product=product)
    stock.quantity = 0
    stock.save()  # as the admin does: written through after the commit
    with django_assert_num_queries(0):  # the page entry was not reloaded
        body = client.get(f"/p/{product.slug}/").content.decode()
    (data,) = _jsonld(body)
    assert data["offers"]["availability"] == "https://schema.org/OutOfStock"
    assert "Out of stock" in body
    stock.quantity = 4
    stock.save()
    body = client.get(f"/p/{product.slug}/").content.decode()
    assert _jsonld(body)[0]["offers"]["availability"] == "https://schema.org/InStock"
    assert "Only 4 left" in body


def test_hostile_product_text_cannot_leave_the_jsonld_script():
    hostile = "</script><script>alert(1)</script><!--"
    product = ProductFactory(name=f"Evil {hostile}", description=hostile, rating=0)
    body = Client().get(f"/p/{product.slug}/").content.decode()
    assert "<script>alert(1)" not in body
    (data,) = _jsonld(body)
    assert data["name"] == f"Evil {hostile}" and data["description"] == hostile


def test_category_page_carries_the_breadcrumb_it_shows():
    department = CategoryFactory(name="Computers", slug="computers")
    laptops = CategoryFactory(name="Laptops & more", slug="laptops", parent=department)
    ProductFactory(category=laptops)
    body = Client().get("/c/laptops/").content.decode()
    (data,) = _jsonld(body)
    assert data["@type"] == "BreadcrumbList"
    items = [(i["position"], i["name"], i["item"]) for i in data["itemListElement"]]
    assert items == [(1, "Home", "/"), (2, "Computers", "/c/computers/"),
                     (3, "Laptops & more", "/c/laptops/")]  # fmt: skip
    shown = re.search(r'<nav aria-label="Breadcrumb".*?</nav>', body, re.S).group(0)
    assert '<a href="/">Home</a>' in shown and '<a href="/c/computers/">Computers</a>' in shown
    assert '<span aria-current="page">Laptops &amp; more</span>' in shown
