"""No one sees what is not theirs: a crawl as shopper A, shopper B and an anonymous visitor
(each with a cart and an order), every page visited by each in turn on a shared shelf."""

import json
import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.middleware.csrf import _unmask_cipher_token
from django.test import Client
from django_redis import get_redis_connection

from catalog.tests.factories import CategoryFactory, ProductFactory
from shelf.core import entry_envelope

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "a-long-pass-1234"
_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def _details(name: str, email: str) -> dict:
    return {"email": email, "name": name, "address_line1": "1 Quay", "address_line2": "",
            "city": "Harbour", "postcode": "99999", "country": "US"}  # fmt: skip


def _order(client: Client, product, name: str, email: str) -> str:
    client.post("/cart/add/", {"product": product.pk, "quantity": 1})
    assert client.post("/checkout/", _details(name, email)).status_code == 302
    body = client.get("/checkout/review/").content.decode()
    form = dict(re.findall(r'type="hidden" name="(token|seen_total)" value="([^"]*)"', body))
    response = client.post("/checkout/place/", {**form, "card_number": "4242424242424242"})
    assert response.status_code == 302 and response.url.startswith("/orders/"), response.url
    return response.url.split("/")[2]


@pytest.fixture
def people():
    department = CategoryFactory(name="Household", slug="household")
    shelf = CategoryFactory(name="Lamps", slug="lamps", parent=department)
    goods = {
        key: ProductFactory(name=name, slug=key, category=shelf, price=Decimal("20.00"))
        for key, name in (("alpha", "Alpha Lantern"), ("beta", "Beta Sconce"),
                          ("gamma", "Gamma Pendant"), ("plain", "Plain Bulb"))
    }  # fmt: skip
    users = get_user_model().objects
    identities = {
        "A": {"user": users.create_user("alicia_z", "alicia.zwarte@example.com", PASSWORD,
                                        first_name="Alicia", last_name="Zwarte"),
              "name": "Alicia Zwarte", "email": "alicia.zwarte@example.com", "cart": "alpha"},
        "B": {"user": users.create_user("boris_q", "boris.quenby@example.com", PASSWORD,
                                        first_name="Boris", last_name="Quenby"),
              "name": "Boris Quenby", "email": "boris.quenby@example.com", "cart": "beta"},
        "anon": {"user": None, "name": "Gale Guestly", "email": "gale.guestly@example.com",
                 "cart": "gamma"},
    }  # fmt: skip
    for who in identities.values():
        client = who["client"] = Client()
        if who["user"] is not None:
            login = {"username": who["user"].username, "password": PASSWORD}
            assert client.post("/accounts/login/", login).status_code == 302
        who["order"] = _order(client, goods["plain"], who["name"], who["email"])
        client.post("/cart/add/", {"product": goods[who["cart"]].pk, "quantity": 2})
        client.get("/accounts/login/" if who["user"] is None else "/cart/")
        who["csrf"] = client.cookies["csrftoken"].value
        who["session"] = client.cookies["sessionid"].value
        who["product_name"] = goods[who["cart"]].name
    return {"goods": goods, "who": identities}


def _secrets(who: dict) -> list[str]:
    found = [who["name"], who["email"], who["order"], who["csrf"], who["session"]]
    if who["user"] is not None:
        found.append(who["user"].username)
    return found


CART_PAGES = ("/cart/", "/checkout/", "/checkout/review/")
_RECENTLY_VIEWED = re.compile(r'<section class="recently-viewed".*?</section>', re.S)


def test_crawl_as_two_shoppers_and_a_guest_shows_each_only_their_own(people):
    goods, who = people["goods"], people["who"]
    urls = [
        "/", "/c/household/", "/c/lamps/?sort=price", "/search/?q=lantern", "/search/?q=bulb",
        *(f"/p/{slug}/" for slug in goods), f"/api/v1/products/{goods['alpha'].pk}",
        "/api/v1/search?q=sconce", "/cart/", "/checkout/", "/checkout/review/", "/orders/",
        *(f"/orders/{w['order']}/" for w in who.values()), "/accounts/login/",
        "/accounts/password/", "/sitemap-products.xml",
    ]  # fmt: skip
    order = list(who)
    responses = 0
    for round_ in range(2):
        for i, url in enumerate(urls):
            # A different identity goes first each time, so each one meets pages the
            # others put on the shelf.
            for name in order[(i + round_) % 3 :] + order[: (i + round_) % 3]:
                me = who[name]
                response = me["client"].get(url)
                responses += 1
                assert response.status_code < 500, (name, url)
                text = (
                    response.content.decode(errors="replace")
                    + "".join(f"{k}: {v}\n" for k, v in response.items())
                    + str(response.cookies)
                )
                for other_name, other in who.items():
                    if other_name == name:
                        continue
                    for secret in _secrets(other):
                        assert secret not in text, (name, url, "sees", other_name, secret)
                    if url in CART_PAGES:
                        # Every identity views every product page of the crawl, so its own
                        # recently viewed list names them all: look at the rest of the page.
                        own = _RECENTLY_VIEWED.sub("", text)
                        assert other["product_name"] not in own, (name, url, other_name)
                for token in _TOKEN.findall(text):
                    assert _unmask_cipher_token(token) == me["csrf"], (name, url)
                if url == "/cart/":
                    assert me["product_name"] in text, (name, "cannot see their own cart")
                if url == f"/orders/{me['order']}/":
                    assert response.status_code == 200 and me["name"] in text
                elif url.startswith("/orders/") and url != "/orders/":
                    assert response.status_code == 404, (name, url)
    print(f"\nisolation crawl: {responses} responses, 3 identities, no leak")


def test_shelved_pages_hold_no_session_csrf_or_shopper_data(people):
    who = people["who"]
    for w in who.values():
        for url in ("/", "/c/lamps/", "/p/alpha/", "/search/?q=lantern"):
            w["client"].get(url)
    cache = get_redis_connection("default")
    shared = [k for k in cache.scan_iter(count=500)
              if k.split(b":")[0] in (b"catalog.page", b"catalog.listing", b"catalog.home",
                                      b"search.results", b"search.page")]  # fmt: skip
    assert len(shared) >= 4, shared
    for key in shared:
        entry = entry_envelope(cache.get(key))
        html = entry["d"].get("html", "") if isinstance(entry["d"], dict) else ""
        # A shared page has the visitor's CSRF input as a slot, never a token.
        assert not _TOKEN.search(html), key
        value = json.dumps(entry, ensure_ascii=False)
        for w in who.values():
            for secret in _secrets(w):
                assert secret not in value, (key, secret)
