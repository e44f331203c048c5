"""An inactive category hides its products from every storefront page, the API, search,
sitemaps and the menu, from the next request after the commit; reactivated, they come back."""

import pytest
from django.test import Client
from django_redis import get_redis_connection

from catalog.cache import PAGE
from catalog.models import Category

from .factories import small_shop

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    return small_shop()


def body(client: Client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, url
    return response.content.decode()


def set_active(category: Category, active: bool, capture) -> None:
    """Save as the admin does; the tags are bumped once the transaction commits."""
    with capture(execute=True):
        category.is_active = active
        category.save()


def laptops_in(html: str) -> list[str]:
    """What a page shows of the laptops: their names, brands only they have, their category."""
    shown = ("Altura", "Nordvik X1", "Quillon", 'href="/c/laptops/"', "category=laptops")
    return [text for text in shown if text in html]


# Storefront URLs and what they show of the laptops while their category is active.
BEFORE = {
    "/": "Altura Aero Laptop",
    "/c/computers/": "Altura Aero Laptop",
    "/search/?q=nordvik": "Nordvik X1 Laptop",
    "/api/v1/search?q=laptop": "Altura Aero Laptop",
    "/sitemap-products.xml": "/p/altura-aero/",
    "/sitemap-categories.xml": "/c/laptops/",
    "/p/altura-aero/": "Altura Aero Laptop",
}


def test_an_inactive_categorys_products_show_nowhere_until_it_is_reactivated(
    shop, client, django_capture_on_commit_callbacks
):
    aero = shop["aero"]
    for url, shown in BEFORE.items():
        assert shown in body(client, url), url
    assert client.get(f"/api/v1/products/{aero.pk}").status_code == 200

    set_active(shop["laptops"], False, django_capture_on_commit_callbacks)

    for slug in ("altura-aero", "nordvik-x1", "quillon-lite"):
        body(client, f"/p/{slug}/", 404)
    assert client.get(f"/api/v1/products/{aero.pk}").status_code == 404
    body(client, "/c/laptops/", 404)
    department = body(client, "/c/computers/")
    assert "Nordvik Slate Tablet" in department and "1 product" in department
    assert not laptops_in(department), "no card, no brand facet, no subcategory, no menu entry"
    home = body(client, "/")
    assert "Nordvik Slate Tablet" in home and not laptops_in(home)
    search = body(client, "/search/?q=nordvik")
    assert "Nordvik Slate Tablet" in search and not laptops_in(search)
    assert "Tablets" in search and "category=laptops" not in search, "the facet went too"
    assert client.get("/api/v1/search?q=laptop").json()["results"] == []
    assert "/p/altura-aero/" not in body(client, "/sitemap-products.xml")
    assert "/c/laptops/" not in body(client, "/sitemap-categories.xml")

    set_active(shop["laptops"], True, django_capture_on_commit_callbacks)

    assert "Altura Aero Laptop" in body(client, "/p/altura-aero/")
    assert client.get(f"/api/v1/products/{aero.pk}").json()["name"] == "Altura Aero Laptop"
    assert "Altura Aero Laptop" in body(client, "/c/computers/")
    assert "Altura Aero Laptop" in body(client, "/search/?q=nordvik+or+altura")
    assert 'href="/c/laptops/"' in body(client, "/")


def test_a_hidden_products_404_is_a_brief_negative_under_its_slug_with_no_sql_on_a_hit(
    shop, client, django_capture_on_commit_callbacks, django_assert_num_queries
):
    set_active(shop["laptops"], False, django_capture_on_commit_callbacks)
    body(client, "/p/altura-aero/", 404)
    with django_assert_num_queries(0):
        body(client, "/p/altura-aero/", 404)
    keys = list(get_redis_connection("default").scan_iter(match=PAGE.key("*")))
    assert keys == [PAGE.key("altura-aero").encode()], "one entry, as for an unknown slug"
    ttl = get_redis_connection("default").ttl(keys[0])
    assert 0 < ttl <= PAGE.negative_ttl * 1.1


def test_an_inactive_department_hides_its_whole_tree(
    shop, client, django_capture_on_commit_callbacks
):
    assert "Sonora Studio Headphones" in body(client, "/c/headphones/")
    set_active(shop["audio"], False, django_capture_on_commit_callbacks)
    body(client, "/p/sonora-studio/", 404)
    body(client, "/c/headphones/", 404)
    body(client, "/c/audio/", 404)
    assert "Sonora" not in body(client, "/search/?q=sonora")
    assert 'href="/c/headphones/"' not in body(client, "/")
    assert "/p/sonora-studio/" not in body(client, "/sitemap-products.xml")
    assert client.get(f"/api/v1/products/{shop['studio'].pk}").status_code == 404
