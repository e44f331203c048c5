"""Cache-Control on every URL: private pages are never stored by a proxy, a CDN or the
browser's disk cache; shared ones say so explicitly (shop.middleware.CacheControlMiddleware)."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client

from catalog.tests.factories import CategoryFactory, ProductFactory, ProductImageFactory
from orders import services as order_services
from orders.tests.factories import DETAILS, cart_with, order_for
from shop.middleware import PRIVATE, SHARED

from .crawl import routes, url_of

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "a-long-pass-1234"
# Same bytes for every visitor; all else must be private.
SHARED_ROUTES = {"catalog:media", "catalog:api-product", "catalog:api-category",
                 "catalog:sitemap", "catalog:sitemap-section", "search:api"}  # fmt: skip
_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def _directives(response) -> set[str]:
    return {d.strip().split("=")[0].lower() for d in response.get("Cache-Control", "").split(",")}


@pytest.fixture
def shop():
    category = CategoryFactory()
    ProductImageFactory(product=ProductFactory(category=category))  # the crawl's /media/ file
    Group.objects.create(name="editors")
    users = get_user_model().objects
    people = {
        "shopper": users.create_user("cc_shopper", "cc.shopper@example.com", PASSWORD),
        "staff": users.create_superuser("cc_staff", "cc.staff@example.com", PASSWORD),
    }
    for user in people.values():
        product = ProductFactory(category=category)
        cart_with(f"u:{user.pk}", {product.pk: 1})
        user.order_number = order_for(f"u:{user.pk}", user_id=user.pk).number
        cart_with(f"u:{user.pk}", {product.pk: 2})
        order_services.address_create(user.pk, DETAILS)
    # A failed login, so that the axes admin pages have rows to show.
    Client().post("/accounts/login/", {"username": "cc_shopper", "password": "wrong"})
    return people


@pytest.mark.parametrize("who", ["shopper", "staff"])
def test_every_url_as_a_signed_in_user_sends_private_no_store_unless_shared(shop, who):
    user = shop[who]
    client = Client()
    assert client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    seen = []
    for route in routes():
        url = url_of(route, user.order_number, user.pk)
        response = client.get(url)
        assert response.status_code < 500, url
        directives = _directives(response)
        seen.append((url, response.status_code, response.get("Cache-Control")))
        if route.name in SHARED_ROUTES:
            assert response.get("Cache-Control") and "private" not in directives, url
            raw = b"".join(response.streaming_content) if response.streaming else response.content
            body = raw.decode(errors="replace")
            assert user.username not in body and user.email not in body, url
            assert not _TOKEN.search(body) and not response.cookies, url
        elif response.status_code == 405:
            # A POST-only view refusing a GET: the refusal is the same for everyone.
            assert response["Cache-Control"] == SHARED or {"private", "no-store"} <= directives
        else:
            assert response["Cache-Control"] == PRIVATE or (
                {"private", "no-store"} <= directives and "public" not in directives
            ), (url, response.get("Cache-Control"))
    assert len(seen) == len(routes()) >= 80
    pages = {url: status for url, status, _ in seen}
    assert pages["/cart/"] == 200 and pages[f"/orders/{user.order_number}/"] == 200
    assert pages["/admin/cache/"] == (200 if who == "staff" else 302)
    # The account pages, each the signed-in shopper's own.
    for url in ("/accounts/", "/accounts/profile/", "/accounts/email/", "/accounts/addresses/",
                "/accounts/addresses/add/", "/accounts/password/reset/"):  # fmt: skip
        assert pages[url] == 200, url
    assert sum(url.startswith("/accounts/addresses/") and status == 200
               for url, status in pages.items()) == 3, "the own address's page too"  # fmt: skip


def test_the_password_reset_pages_are_private_for_a_guest_too(shop):
    guest = Client()
    for page in ("", "sent/", "complete/", "MA/x-y/"):
        url = "/accounts/password/reset/" + page
        response = guest.get(url)
        assert response.status_code == 200, url
        assert response["Cache-Control"] == PRIVATE, url
    response = guest.post("/accounts/password/reset/", {"email": "cc.shopper@example.com"})
    assert response.status_code == 302 and response["Cache-Control"] == PRIVATE


def test_shared_responses_say_no_cache_and_private_ones_override_a_view_s_public_policy(shop):
    guest = Client()
    product = ProductFactory()
    assert guest.get(f"/api/v1/products/{product.pk}")["Cache-Control"] == SHARED
    # The product page holds the add-to-cart form's CSRF token: private even for a guest.
    assert _directives(guest.get(f"/p/{product.slug}/")) >= {"private", "no-store"}
    # The picture asks to be cached for a year; it carries nothing of the visitor's.
    image = guest.get("/media/" + ProductImageFactory(product=product).image.name)
    assert "public" in _directives(image) and "immutable" in _directives(image)
