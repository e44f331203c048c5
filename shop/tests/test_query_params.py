"""Every URL pattern of the URLconf with odd query strings: a 4xx or a normal answer, never a
5xx, and a GET changes no row. Unicode digits in `page` are 404s on every paginated page."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from catalog.tests.factories import CategoryFactory, ProductFactory
from orders.tests.factories import cart_with, order_for

from .crawl import routes, url_of
from .test_fuzz import fingerprint

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "a-long-pass-1234"
# Superscripts, circled, Arabic-Indic, full-width: str.isdigit() or int() accepts each.
UNICODE_DIGITS = ["²", "¹", "①", "١٢", "１２", "𝟙"]  # noqa: RUF001
PAGINATED = ["/c/computers/", "/search/?q=lamp", "/api/v1/search?q=lamp", "/orders/"]
# The shop's own parameters and the admin's (p: page, o: ordering, e: error, q: search).
NAMES = ["page", "q", "sort", "category", "min_price", "max_price", "in_stock", "next",
         "p", "o", "e", "_changelist_filters", "id__exact", "all"]  # fmt: skip
ROUTES = routes()
CATEGORY = next(r for r in ROUTES if r.name == "catalog:category")
QUERY = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)


@pytest.fixture
def shop():
    category = CategoryFactory(slug="computers", name="Computers")
    product = ProductFactory(category=category, name="Desk lamp")
    users = get_user_model().objects
    staff = users.create_superuser("q_staff", "q.staff@example.com", PASSWORD)
    cart_with(f"u:{staff.pk}", {product.pk: 1})
    number = order_for(f"u:{staff.pk}", user_id=staff.pk).number
    return {"staff": staff, "number": number}


@pytest.mark.parametrize("digit", UNICODE_DIGITS)
def test_unicode_digits_as_a_page_number_are_404s_on_every_paginated_page(shop, digit):
    client = Client()
    client.force_login(shop["staff"])
    for url in PAGINATED:
        response = client.get(url, {"page": digit})
        assert response.status_code == 404, (url, digit, response.status_code)
    assert client.get("/c/computers/", {"page": "1"}).status_code == 200


@QUERY
@given(
    route=st.sampled_from(ROUTES),
    fields=st.lists(
        st.tuples(
            st.one_of(st.sampled_from(NAMES), st.text(min_size=1, max_size=8)),
            st.one_of(st.sampled_from(UNICODE_DIGITS), st.text(max_size=30)),
        ),
        max_size=5,
    ),
    signed_in=st.booleans(),
)
@example(route=CATEGORY, fields=[("page", "²")], signed_in=False)
def test_every_url_pattern_answers_arbitrary_query_strings_without_a_5xx(
    shop, route, fields, signed_in
):
    client = Client()
    if signed_in:
        client.force_login(shop["staff"])
    url = url_of(route, shop["number"], shop["staff"].pk)
    query: dict[str, list[str]] = {}
    for name, value in fields:
        query.setdefault(name, []).append(value)
    before = fingerprint(client)
    response = client.get(url, query)
    assert response.status_code < 500, (url, query, response.status_code)
    assert fingerprint(client) == before, (url, query)
