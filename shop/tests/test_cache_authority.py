"""The cache Redis holds no credential and no authority: a forged `shop.user` entry grants
nothing, and whatever decides a right reads PostgreSQL."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django_redis import get_redis_connection

from catalog.tests.factories import ProductFactory
from orders.tests.factories import cart_with, order_for
from shelf.core import entry_bytes, entry_envelope
from shop.cache import USER, user_get
from shop.models import ShelfUserReadOnly

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "a-long-pass-1234"
ADMIN_PAGES = ["/admin/", "/admin/cache/", "/admin/auth/user/", "/admin/orders/order/"]


@pytest.fixture
def alice():
    return get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)


@pytest.fixture
def bob():
    return get_user_model().objects.create_user("bob", "bob@example.com", PASSWORD)


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    assert client.get("/cart/").status_code == 200  # puts the user's entry on the shelf
    return client


def _entry(user_id: int) -> dict:
    raw = get_redis_connection("default").get(USER.key(user_id))
    assert raw is not None, "the user's entry is not on the shelf"
    return entry_envelope(raw)


def _forge(user_id: int, **changes) -> None:
    """Rewrite the user's entry straight in the cache Redis, as an attacker with access would."""
    entry = _entry(user_id)
    entry["d"].update(changes)
    get_redis_connection("default").set(USER.key(user_id), entry_bytes(entry))


def test_the_entry_holds_no_password_hash_and_no_rights(alice):
    _signed_in(alice)
    raw = get_redis_connection("default").get(USER.key(alice.pk)).decode()
    alice.refresh_from_db()
    assert alice.password and alice.password not in raw
    assert alice.password.split("$")[-1] not in raw
    for name in ("password", "is_staff", "is_superuser"):
        assert name not in _entry(alice.pk)["d"]


def test_forged_staff_flags_open_no_admin_page(alice):
    shopper = _signed_in(alice)
    _forge(alice.pk, is_staff="True", is_superuser="True", password="forged")
    assert "Hi, alice" in shopper.get("/").content.decode()  # the entry is the one in use
    for url in ADMIN_PAGES:
        response = shopper.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/admin/login/"), url
    assert user_get(alice.pk).is_staff is False and user_get(alice.pk).is_superuser is False
    alice.refresh_from_db()
    assert not alice.is_staff and not alice.is_superuser


def test_an_entry_naming_another_user_shows_none_of_their_data(alice, bob):
    product = ProductFactory()
    cart_with(f"u:{bob.pk}", {product.pk: 1})
    order = order_for(f"u:{bob.pk}", user_id=bob.pk)
    _signed_in(bob)
    bobs = _entry(bob.pk)["d"]
    shopper = _signed_in(alice)
    _forge(alice.pk, **bobs)  # bob's id, name, email and session hash under alice's key
    for url in ["/", "/orders/", f"/orders/{order.number}/", "/cart/", "/checkout/"]:
        body = shopper.get(url, follow=True).content.decode()
        # Without the random CSRF tokens, which spell "bob" once in a few hundred pages.
        body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", body)
        assert "bob" not in body.lower() and order.number not in body, url


def test_a_forged_session_hash_signs_the_shopper_out(alice):
    shopper = _signed_in(alice)
    _forge(alice.pk, session_hash="0" * 64)
    assert "Hi, alice" not in shopper.get("/").content.decode()
    assert shopper.get("/orders/")["Location"].startswith("/accounts/login/")


def test_a_user_from_the_shelf_cannot_be_saved_over_the_real_row(alice):
    _signed_in(alice)
    shelved = user_get(alice.pk)
    shelved.first_name = "Mallory"
    for write in (shelved.save, shelved.delete, lambda: shelved.set_password("x")):
        with pytest.raises(ShelfUserReadOnly):
            write()
    alice.refresh_from_db()
    assert alice.first_name == "" and alice.check_password(PASSWORD)


def test_staff_rights_are_read_from_postgresql_on_every_admin_request(alice):
    get_user_model().objects.filter(pk=alice.pk).update(is_staff=True)
    staff = _signed_in(alice)
    assert staff.get("/admin/cache/").status_code == 200
    assert staff.get("/admin/").status_code == 200
    # No save signal, so no bump: the shelf's entry is untouched, PostgreSQL decides alone.
    get_user_model().objects.filter(pk=alice.pk).update(is_staff=False)
    assert staff.get("/admin/cache/").status_code == 302
    assert staff.get("/admin/").status_code == 302


def test_shopper_pages_still_read_the_user_from_the_shelf(alice, django_assert_num_queries):
    shopper = _signed_in(alice)
    with django_assert_num_queries(0):
        assert user_get(alice.pk).username == "alice"
    assert "Hi, alice" in shopper.get("/").content.decode()
