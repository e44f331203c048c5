"""The address book's rules (one default, kept when the default goes), and checkout: the
default address fills it, and it can keep the address it was given."""

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError
from django.test import Client

from catalog.tests.factories import ProductFactory
from orders import selectors, services
from orders.models import Address
from orders.tests.factories import DETAILS, HOME, WORK, order_for

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "a-long-pass-1234"


@pytest.fixture
def ada():
    return get_user_model().objects.create_user("ada", "ada@example.com", PASSWORD)


@pytest.fixture
def shopper(ada):
    client = Client()
    client.force_login(ada)
    return client


def _book(user) -> list[tuple[str, bool]]:
    return [(a.city, a.is_default) for a in selectors.addresses_of_user(user.pk)]


# --- Services ----------------------------------------------------------------------------------


def test_the_first_address_is_the_default_and_one_default_is_kept(ada):
    home = services.address_create(ada.pk, HOME)
    work = services.address_create(ada.pk, WORK)
    assert _book(ada) == [("London", True), ("Cambridge", False)]
    services.address_set_default(work)
    assert _book(ada) == [("Cambridge", True), ("London", False)]
    services.address_delete(work)
    assert _book(ada) == [("London", True)], "the remaining address became the default"
    services.address_delete(home)
    assert _book(ada) == [] and selectors.address_default(ada.pk) is None


def test_making_a_deleted_address_the_default_keeps_the_book_s_default(ada):
    services.address_create(ada.pk, HOME)
    stale = services.address_create(ada.pk, WORK)
    Address.objects.filter(pk=stale.pk).delete()  # another request deleted it meanwhile
    services.address_set_default(stale)
    assert _book(ada) == [("London", True)]


def test_the_database_refuses_a_second_default(ada):
    services.address_create(ada.pk, HOME)
    with pytest.raises(IntegrityError):
        Address.objects.create(user=ada, is_default=True, **WORK)


def test_checkout_keeps_an_address_once(ada):
    first = services.address_save_from_checkout(ada.pk, {**DETAILS, "email": "x@example.com"})
    again = services.address_save_from_checkout(ada.pk, DETAILS)
    assert first.pk == again.pk and Address.objects.count() == 1 and first.is_default


# --- Checkout ----------------------------------------------------------------------------------


def _with_cart(client) -> None:
    product = ProductFactory()
    assert client.post("/cart/add/", {"product": product.pk, "quantity": 1}).status_code == 302


def test_checkout_starts_with_the_default_address(shopper, ada):
    services.address_create(ada.pk, WORK)
    services.address_set_default(services.address_create(ada.pk, HOME))
    _with_cart(shopper)
    form = shopper.get("/checkout/").context["form"]
    assert form.initial == {"email": "ada@example.com", **HOME}
    body = shopper.get("/checkout/").content.decode()
    assert 'value="12 St James&#x27;s Square"' in body and 'name="save_address"' in body


def test_a_guest_checkout_has_no_address_book(client, ada):
    services.address_create(ada.pk, HOME)
    _with_cart(client)
    response = client.get("/checkout/")
    assert response.context["form"].initial == {}
    assert "save_address" not in response.content.decode()
    # A guest posting the box anyway saves nothing.
    client.post("/checkout/", {**DETAILS, "save_address": "on"})
    assert Address.objects.count() == 1


def test_checkout_saves_the_entered_address_when_asked_and_it_fills_the_next_one(shopper, ada):
    _with_cart(shopper)
    response = shopper.post("/checkout/", {**DETAILS, "save_address": "on"})
    assert response.status_code == 302 and response["Location"] == "/checkout/review/"
    saved = Address.objects.get(user=ada)
    assert (saved.city, saved.is_default) == (DETAILS["city"], True)
    assert "save_address" not in shopper.session["checkout_details"]
    order_for(f"u:{ada.pk}", user_id=ada.pk)
    fresh = Client()
    fresh.force_login(ada)
    _with_cart(fresh)
    initial = fresh.get("/checkout/").context["form"].initial
    assert initial["address_line1"] == DETAILS["address_line1"]


def test_checkout_without_the_box_saves_nothing(shopper, ada):
    _with_cart(shopper)
    assert shopper.post("/checkout/", DETAILS).status_code == 302
    assert not Address.objects.exists()
