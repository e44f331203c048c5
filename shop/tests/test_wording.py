"""Storefront pages speak to shoppers: no word of the machinery behind them in what a visitor
can read (text, the title, alt texts, labels, placeholders), signed in or out, and no raw
field names in error messages."""

import re
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.flatpages.models import FlatPage
from django.contrib.sites.models import Site
from django.core import mail
from django.template.loader import render_to_string
from django.test import Client

from catalog.tests.factories import CategoryFactory, ProductFactory
from orders.tests.factories import APPROVED_CARD, DETAILS
from shop.info import info_pages_ensure

pytestmark = pytest.mark.django_db(transaction=True)

DEVELOPER_WORDS = re.compile(
    r"\b(redis|postgres(ql)?|demos?|cach(e|es|ed|ing)|shelf|shelves|django|htmx|sql)\b", re.I
)
# Raw form field names as Django's error lists print them ("quantity: Enter a whole number.").
FIELD_NAMES = re.compile(
    r"\b(product|quantity|card_number|seen_total|token|password1|password2)\s*:"
)
READABLE_ATTRIBUTES = ("alt", "aria-label", "placeholder", "title")
INFO_PAGES = ("/shipping/", "/returns/", "/privacy/", "/contact/", "/about/")


class _VisibleText(HTMLParser):
    """What a visitor can read or hear: text outside <script>, <style> and comments, the
    title, and the attributes a browser or screen reader shows."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._hidden += 1
        self.parts += [v for k, v in attrs if k in READABLE_ATTRIBUTES and v]

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    text = " ".join(" ".join(parser.parts).split())
    # The shop's own name (its logo, titles, footer) and its email domain are the brand, not
    # the machinery, even when the brand is "Shelf".
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].rstrip(">")
    return text.replace(domain, "").replace(settings.SITE_NAME, "")


def developer_words(html: str) -> list[str]:
    text = visible_text(html)
    return sorted({m.group(0) for m in DEVELOPER_WORDS.finditer(text)}) + [
        m.group(0) for m in FIELD_NAMES.finditer(text)
    ]


def test_visible_text_finds_the_words_where_a_visitor_reads_them():
    """The check itself can fail: each place a visitor reads is looked at, markup is not."""
    assert developer_words("<p>Served from Redis</p>") == ["Redis"]
    assert developer_words('<img alt="a cached picture" src="/x/shelf.svg">') == ["cached"]
    assert developer_words("<title>PostgreSQL down</title>") == ["PostgreSQL"]
    assert developer_words("<p>That did not work (quantity: Enter a whole number.)</p>") == [
        "quantity:"
    ]
    assert developer_words(
        '<script src="/static/shop/htmx.min.js"></script><!--shelf:cart-->'
        f'<a class="shelf" href="/">{settings.SITE_NAME}</a>'
    ) == []


@pytest.fixture
def shop_pages():
    """Every storefront page type, with a product in the cart and an order placed."""
    info_pages_ensure(Site, FlatPage)
    department = CategoryFactory(name="Kitchen", slug="kitchen", parent=None)
    category = CategoryFactory(name="Kettles", slug="kettles", parent=department)
    product = ProductFactory(name="Steel Kettle", category=category, stock__quantity=5)
    sold_out = ProductFactory(name="Copper Kettle", category=category, stock__quantity=0)
    return {
        "home": "/",
        "department": f"/c/{department.slug}/",
        "category": f"/c/{category.slug}/",
        "product": f"/p/{product.slug}/",
        "sold out product": f"/p/{sold_out.slug}/",
        "search": "/search/?q=kettle",
        "no results": "/search/?q=zzzzqqqq",
        "login": "/accounts/login/",
        "signup": "/accounts/signup/",
        "not found": "/no-such-page/",
        **{f"info {url}": url for url in INFO_PAGES},
        "_product": product,
    }


def _walk(client: Client, pages: dict) -> dict[str, str]:
    """The pages a shopper sees, in the order they see them, HTML by name."""
    seen = {name: client.get(url).content.decode() for name, url in pages.items()
            if not name.startswith("_")}  # fmt: skip
    product = pages["_product"]
    seen["empty cart"] = client.get("/cart/").content.decode()
    client.post("/cart/add/", {"product": product.pk, "quantity": 2})
    seen["cart"] = client.get("/cart/").content.decode()
    for quantity in ("0", "-1", "100", "abc", "9"):
        response = client.post("/cart/update/", {"product": product.pk, "quantity": quantity})
        seen[f"cart refusing {quantity}"] = response.content.decode()
    seen["add refused"] = client.post(
        "/cart/add/", {"product": product.pk, "quantity": "x"}, follow=True
    ).content.decode()
    seen["checkout"] = client.get("/checkout/").content.decode()
    seen["checkout errors"] = client.post("/checkout/", {"email": "nope"}).content.decode()
    client.post("/checkout/", DETAILS)
    review = client.get("/checkout/review/").content.decode()
    seen["review"] = review
    form = dict(re.findall(r'type="hidden" name="(token|seen_total)" value="([^"]*)"', review))
    seen["card refused"] = client.post(
        "/checkout/place/", {**form, "card_number": "12"}
    ).content.decode()
    seen["order"] = client.post(
        "/checkout/place/", {**form, "card_number": APPROVED_CARD}, follow=True
    ).content.decode()
    return seen


def test_storefront_pages_say_nothing_of_the_machinery_signed_out(shop_pages):
    seen = _walk(Client(), shop_pages)
    seen["signup errors"] = Client().post(
        "/accounts/signup/", {"username": "a b", "password1": "1", "password2": "2"}
    ).content.decode()
    seen["500"] = render_to_string("500.html", {"SITE_NAME": settings.SITE_NAME})
    seen["503"] = render_to_string("503.html", {"SITE_NAME": settings.SITE_NAME})
    assert "Order placed" in seen["order"] or "Thank you!" in seen["order"]
    found = {name: words for name, html in seen.items() if (words := developer_words(html))}
    assert found == {}


def test_storefront_pages_say_nothing_of_the_machinery_signed_in(shop_pages):
    user = get_user_model().objects.create_user("grace", "grace@example.com", "pw-grace-123")
    client = Client()
    client.force_login(user)
    seen = _walk(client, shop_pages)
    seen["orders"] = client.get("/orders/").content.decode()
    seen["password change"] = client.get("/accounts/password/").content.decode()
    assert "Hi, grace" in seen["home"] and "Thank you!" in seen["order"]
    found = {name: words for name, html in seen.items() if (words := developer_words(html))}
    assert found == {}


def test_sign_up_explains_its_fields_in_the_shoppers_words(client):
    body = client.get("/accounts/signup/").content.decode()
    assert "The name you sign in with" in body and "The same password again" in body
    for stock in ("Required. 150 characters", "Enter the same password as before", "can\u2019t"):
        assert stock not in body


def test_choosing_a_new_password_is_explained_in_the_shoppers_words(client):
    user = get_user_model().objects.create_user("ada", "ada@example.com", "pw-ada-12345")
    client.force_login(user)
    change = client.get("/accounts/password/").content.decode()
    client.logout()
    client.post("/accounts/password/reset/", {"email": "ada@example.com"})
    link = re.search(r"http://testserver(/accounts/password/reset/\S+/\S+/)", mail.outbox[0].body)
    choose = client.get(link[1], follow=True).content.decode()
    for body in (change, choose):
        assert "At least 8 characters" in body and "The same password again" in body
        for stock in ("Enter the same password as before", "can\u2019t", "Your password must"):
            assert stock not in body
    assert "Current password" in change
