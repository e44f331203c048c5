"""The address book's pages: add, edit, delete, choose the default; nobody reaches another
shopper's addresses."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from orders import selectors, services
from orders.models import Address
from orders.tests.factories import HOME, WORK

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "a-long-pass-1234"


def _book(user) -> list[tuple[str, bool]]:
    return [(a.city, a.is_default) for a in selectors.addresses_of_user(user.pk)]


@pytest.fixture
def ada():
    return get_user_model().objects.create_user("ada", "ada@example.com", PASSWORD)


@pytest.fixture
def shopper(ada):
    client = Client()
    client.force_login(ada)
    return client


# --- Pages -------------------------------------------------------------------------------------


def test_address_pages_need_a_sign_in(client):
    for url in ("/accounts/addresses/", "/accounts/addresses/add/", "/accounts/addresses/1/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert client.post("/accounts/addresses/1/delete/").status_code == 302
    assert Address.objects.count() == 0


def test_add_edit_make_default_and_delete_from_the_pages(shopper, ada):
    assert "no saved addresses" in shopper.get("/accounts/addresses/").content.decode()
    response = shopper.post("/accounts/addresses/add/", HOME)
    assert response.status_code == 302 and response["Location"] == "/accounts/addresses/"
    page = shopper.get("/accounts/addresses/")
    assert page["Cache-Control"] == "private, no-store"  # shop.middleware.PRIVATE
    assert "Address added." in page.content.decode() and "SW1Y 4JH" in page.content.decode()
    shopper.post("/accounts/addresses/add/", WORK)
    work = Address.objects.get(city="Cambridge")
    assert shopper.get(f"/accounts/addresses/{work.pk}/").status_code == 200
    edited = shopper.post(f"/accounts/addresses/{work.pk}/", {**WORK, "postcode": "CB3 0FD"})
    assert edited.status_code == 302 and Address.objects.get(pk=work.pk).postcode == "CB3 0FD"
    assert shopper.post(f"/accounts/addresses/{work.pk}/default/").status_code == 302
    assert _book(ada) == [("Cambridge", True), ("London", False)]
    assert "1 Analytical Row" in shopper.get("/accounts/").content.decode()
    assert shopper.post(f"/accounts/addresses/{work.pk}/delete/").status_code == 302
    assert _book(ada) == [("London", True)]


@pytest.mark.parametrize(
    "bad",
    [{"name": ""}, {"postcode": "x" * 21}, {"city": "\x00"}, {"country": "Ω" * 5000},
     {"address_line1": "   "}],
)  # fmt: skip
def test_bad_address_input_is_a_form_error_and_changes_nothing(shopper, ada, bad):
    response = shopper.post("/accounts/addresses/add/", {**HOME, **bad})
    assert response.status_code == 200 and 'class="error-summary"' in response.content.decode()
    home = services.address_create(ada.pk, HOME)
    response = shopper.post(f"/accounts/addresses/{home.pk}/", {**HOME, **bad})
    assert response.status_code == 200
    assert Address.objects.get(pk=home.pk).postcode == HOME["postcode"]
    assert Address.objects.count() == 1


def test_a_new_line_typed_into_an_address_becomes_a_space(shopper):
    shopper.post("/accounts/addresses/add/", {**HOME, "name": "Ada\r\nBcc: x@evil.example"})
    assert Address.objects.get().name == "Ada Bcc: x@evil.example"


def test_another_shopper_s_address_is_a_404_and_stays_as_it_is(shopper, ada):
    bob = get_user_model().objects.create_user("bob", "bob@example.com", PASSWORD)
    theirs = services.address_create(bob.pk, WORK)
    services.address_create(ada.pk, HOME)
    base = f"/accounts/addresses/{theirs.pk}/"
    assert shopper.get(base).status_code == 404
    assert shopper.post(base, HOME).status_code == 404
    assert shopper.post(base + "default/").status_code == 404
    assert shopper.post(base + "delete/").status_code == 404
    assert Address.objects.get(pk=theirs.pk).city == "Cambridge"
    assert "Cambridge" not in shopper.get("/accounts/addresses/").content.decode()
    for missing in ("0", "99999999", "99999999999999999999999"):
        assert shopper.get(f"/accounts/addresses/{missing}/").status_code == 404


def test_the_state_changing_address_urls_refuse_get(shopper, ada):
    home = services.address_create(ada.pk, HOME)
    for action in ("delete", "default"):
        assert shopper.get(f"/accounts/addresses/{home.pk}/{action}/").status_code == 405
    assert Address.objects.filter(pk=home.pk).exists()
