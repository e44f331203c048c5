"""Recently viewed products: per visitor, never in the shared page, merged at sign-in."""

import re

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django_redis import get_redis_connection

from catalog.cache import PAGE
from catalog.tests.factories import ProductFactory
from shelf.core import entry_envelope
from shelf.tests.servers import redis_server
from shop import history

from .factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def products():
    return [ProductFactory(name=f"Thing {n:02d}", slug=f"thing-{n:02d}") for n in range(12)]


def _recent(body: str) -> list[str]:
    """The product names in the page's recently viewed section, in order."""
    section = re.search(r'<section class="recently-viewed".*?</section>', body, re.S)
    return re.findall(r'card-name">([^<]+)<', section.group(0)) if section else []


def _view(client: Client, *products) -> str:
    for product in products:
        body = client.get(f"/p/{product.slug}/").content.decode()
    return body


def test_an_anonymous_visitor_sees_their_last_eight_products_newest_first(
    products, state_trips, django_assert_num_queries
):
    visitor = Client()
    assert _recent(_view(visitor, products[0])) == [], "nothing viewed before"
    body = _view(visitor, *products[1:11])
    # The page's own product is not listed; the eight before it are, newest first.
    assert _recent(body) == [f"Thing {n:02d}" for n in range(9, 1, -1)]
    assert visitor.cookies[history.COOKIE].value == ".".join(
        str(p.pk) for p in reversed(products[2:11])
    )
    assert state_trips == [], "no state Redis round trip for a visitor without a session"
    with django_assert_num_queries(0):  # the cards come from the product entries
        again = _view(visitor, products[10])
    assert _recent(again) == _recent(body)
    # Another visitor gets the same shared page without this one's history.
    assert _recent(_view(Client(), products[10])) == []
    stored = entry_envelope(get_redis_connection("default").get(PAGE.key(products[10].slug)))
    html = stored["d"]["html"]
    assert products[10].name in html and "Recently viewed" not in html  # decompressed


def test_the_cart_shows_the_visitors_recently_viewed_products(products):
    visitor = Client()
    _view(visitor, products[0], products[1])
    body = visitor.get("/cart/").content.decode()
    assert _recent(body) == ["Thing 01", "Thing 00"]
    assert _recent(Client().get("/cart/").content.decode()) == []


def test_a_tampered_cookie_shows_nothing_it_should_not(products):
    visitor = Client()
    visitor.cookies[history.COOKIE] = f"{products[3].pk}.x.-1.99999999999.{products[4].pk}.²"
    body = _view(visitor, products[0])
    assert _recent(body) == ["Thing 03", "Thing 04"]
    assert (
        visitor.cookies[history.COOKIE].value
        == f"{products[0].pk}.{products[3].pk}.{products[4].pk}"
    )


def test_signed_in_history_lives_in_the_state_redis_and_merges_at_sign_in(
    products, django_assert_num_queries
):
    user = UserFactory(username="ada")
    earlier = Client()
    earlier.force_login(user)
    _view(earlier, products[5], products[6])  # on another device, signed in
    assert get_redis_connection("state").lrange(f"recent:u:{user.pk}", 0, -1) == [
        str(products[6].pk).encode(),
        str(products[5].pk).encode(),
    ]
    _view(earlier, products[7])
    with django_assert_num_queries(0):  # a warm page: the session, user and cards all cached
        body = _view(earlier, products[7])
    assert _recent(body) == ["Thing 06", "Thing 05"]

    visitor = Client()
    _view(visitor, products[0], products[1], products[6])
    response = visitor.post("/accounts/login/", {"username": "ada", "password": PASSWORD})
    assert response.status_code == 302
    assert visitor.cookies[history.COOKIE].value == "", "the cookie is removed once merged"
    body = visitor.get("/cart/").content.decode()
    assert _recent(body) == ["Thing 06", "Thing 01", "Thing 00", "Thing 07", "Thing 05"]
    visitor.post("/accounts/logout/")
    assert _recent(visitor.get("/cart/").content.decode()) == [], "nothing left after sign-out"


def test_a_failed_state_redis_costs_only_the_history(products):
    UserFactory(username="ada")
    with redis_server() as server:
        caches = {alias: dict(conf) for alias, conf in settings.CACHES.items()}
        caches["state"] = {**caches["state"], "LOCATION": server.url}
        with override_settings(CACHES=caches):
            shopper = Client()
            shopper.post("/accounts/login/", {"username": "ada", "password": PASSWORD})
            assert _recent(_view(shopper, products[0], products[1])) == ["Thing 00"]
            server.kill()
            response = shopper.get(f"/p/{products[2].slug}/")
            assert response.status_code == 200
            body = response.content.decode()
            assert "Thing 02" in body and _recent(body) == []
            assert shopper.get("/cart/").status_code == 200
