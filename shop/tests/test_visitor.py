"""A visitor's page costs one state-Redis round trip: the session, the cart count and the
recently viewed list come in one script (shop/visitor.py), and never another visitor's."""

import re

import pytest
from django.test import Client
from django_redis import get_redis_connection

from catalog.tests.factories import ProductFactory
from shop import history, visitor

from .factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def products():
    return [ProductFactory(name=f"Thing {n:02d}", slug=f"thing-{n:02d}") for n in range(4)]


def _count(body: str) -> str:
    return re.search(r'id="cart-count">([^<]*)<', body).group(1)


def _recent(body: str) -> list[str]:
    section = re.search(r'<section class="recently-viewed".*?</section>', body, re.S)
    return re.findall(r'card-name">([^<]+)<', section.group(0)) if section else []


def _signed_in(username: str) -> Client:
    UserFactory(username=username)
    client = Client()
    response = client.post("/accounts/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def _add(client: Client, product, quantity: int) -> None:
    response = client.post("/cart/add/", {"product": product.pk, "quantity": quantity})
    assert response.status_code in (200, 302), response.content[:300]


def test_a_signed_in_product_page_costs_one_state_round_trip(
    products, state_trips, django_assert_num_queries
):
    ada = _signed_in("ada")
    _add(ada, products[3], 2)
    for product in products[:3]:
        ada.get(f"/p/{product.slug}/")  # warms the pages, writes the visitor index
    state_trips.clear()
    with django_assert_num_queries(0):
        body = ada.get(f"/p/{products[1].slug}/").content.decode()
    assert len(state_trips) == 1, state_trips
    assert _count(body) == "2"  # the cart came through the script: its key shape is the cart's
    # The view just recorded is first in Redis; the page lists the others, newest first.
    assert _recent(body) == ["Thing 02", "Thing 00"]
    key = history._key(int(ada.session["_auth_user_id"]))
    assert get_redis_connection("state").lrange(key, 0, -1)[:3] == [
        str(products[1].pk).encode(), str(products[2].pk).encode(), str(products[0].pk).encode()
    ]  # fmt: skip


def test_an_anonymous_visitor_with_a_cart_also_costs_one_round_trip(products, state_trips):
    shopper = Client()
    _add(shopper, products[0], 3)
    shopper.get(f"/p/{products[1].slug}/")
    state_trips.clear()
    body = shopper.get(f"/p/{products[2].slug}/").content.decode()
    assert len(state_trips) == 1, state_trips
    assert _count(body) == "3"


def test_an_index_naming_someone_else_shows_nothing_of_theirs_and_is_rewritten(products):
    ada, bob = _signed_in("ada"), _signed_in("bob")
    _add(bob, products[0], 5)
    bob.get(f"/p/{products[0].slug}/")
    ada.get(f"/p/{products[1].slug}/")
    state = get_redis_connection("state")
    index = visitor.index_key(ada.cookies["sessionid"].value)
    state.set(index, f"u:{bob.session['_auth_user_id']}")  # as if it had gone wrong

    body = ada.get(f"/p/{products[2].slug}/").content.decode()
    assert _count(body) == "0", "not bob's cart"
    assert _recent(body) == ["Thing 01"], "ada's own history, not bob's"
    assert state.get(index) == f"u:{ada.session['_auth_user_id']}".encode()
    body = ada.get(f"/p/{products[3].slug}/").content.decode()
    assert _recent(body) == ["Thing 02", "Thing 01"]


def test_signing_out_removes_the_index(products):
    ada = _signed_in("ada")
    ada.get(f"/p/{products[0].slug}/")
    index = visitor.index_key(ada.cookies["sessionid"].value)
    assert get_redis_connection("state").exists(index)
    ada.post("/accounts/logout/")
    assert not get_redis_connection("state").exists(index)
