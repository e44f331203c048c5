"""The edge cache (shelf/edge.py, docker/varnish/shelf.vcl): what it may keep, and that it stays
exact.

In process: which responses carry their shelf tags for the edge, and what a form without a
token gets. Through a real varnishd in front of a real gunicorn (both started here on spare
ports; skipped, saying why, where Varnish cannot be had, failed under CI=true): 1,000 saves each
followed by a read through the edge, with a reader hammering the same page meanwhile, none stale;
a crawl as an anonymous visitor, two signed-in shoppers and a guest with a cart, in which no
response the edge kept holds any visitor's data; a shopper without JavaScript buys through the
edge; an edge that was down gets its purges from the outbox.
"""

import http.client
import re
import threading
import time
import urllib.parse
from decimal import Decimal
from http.cookies import SimpleCookie

import pytest
from django.db import connection, transaction
from django.middleware.csrf import _unmask_cipher_token
from django.test import Client

from catalog.tests.factories import ProductFactory
from shelf import outbox
from shelf.models import PendingBump
from shelf.tests.servers import (
    database_url_for,
    gunicorn_server,
    spare_port,
    tcp_proxy,
    varnish_server,
    varnishd_path,
)

from .test_isolation import _details, _secrets, people  # noqa: F401 (a fixture)

EDGE = {"HTTP_X_SHELF_EDGE": "1"}
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]*)"')
PRICE = re.compile(r'<p class="price big">\$([0-9.,]+)</p>')
UNITS = re.compile(r'<p class="price big">.*?Only (\d+) left', re.S)
ROUNDS = 1000


# IN PROCESS
# ------------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_page_for_the_edge_carries_its_tags_and_nothing_of_a_visitor():
    product = ProductFactory(stock__quantity=5)
    for attempt in range(2):  # built by this request, then from the shelf (and its L1)
        response = Client().get(product.get_absolute_url(), **EDGE)
        assert response.status_code == 200
        tags = set(response["xkey"].split())
        assert {f"product:{product.pk}", f"stock:{product.pk}", "ns:catalog.page"} <= tags, (
            attempt,
            tags,
        )
        assert response["Cache-Control"] == "no-cache"
        assert not response.cookies
        html = response.content.decode()
        assert TOKEN.findall(html) == [""], "a form on a page for everyone has no token"
        assert "Sign in" in html


@pytest.mark.django_db
def test_only_shared_pages_of_visitors_without_cookies_go_to_the_edge():
    product = ProductFactory()
    url = product.get_absolute_url()
    assert "xkey" not in Client().get(url), "not from the edge: no tags"
    visitor = Client()
    visitor.cookies["sessionid"] = "whatever"
    response = visitor.get(url, **EDGE)
    assert "xkey" not in response and response["Cache-Control"] == "private, no-store"
    assert TOKEN.findall(response.content.decode())[0] != ""
    for path in ("/accounts/login/", "/cart/", "/healthz"):
        assert "xkey" not in Client().get(path, **EDGE), path
    assert "xkey" in Client().get(f"/api/v1/products/{product.pk}", **EDGE)
    assert "xkey" in Client().get("/c/" + product.category.slug + "/", **EDGE)
    assert "xkey" in Client().get("/", **EDGE)


@pytest.mark.django_db
def test_a_form_sent_without_a_token_is_confirmed_with_one_and_nothing_done_before():
    product = ProductFactory(stock__quantity=5)
    shopper = Client(enforce_csrf_checks=True)
    sent = {"csrfmiddlewaretoken": "", "product": product.pk, "quantity": 2, "next": "/cart/"}
    response = shopper.post("/cart/add/", sent)
    assert response.status_code == 403
    html = response.content.decode()
    assert "One more step" in html
    fields = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', html))
    assert fields.pop("csrfmiddlewaretoken") and fields == {
        "product": str(product.pk), "quantity": "2", "next": "/cart/"
    }  # fmt: skip
    assert "sessionid" not in response.cookies, "nothing was done yet"
    confirmed = shopper.post(
        "/cart/add/", {**fields, "csrfmiddlewaretoken": TOKEN.findall(html)[0]}
    )
    assert confirmed["Location"] == "/cart/"
    assert product.name in shopper.get("/cart/").content.decode()
    # A wrong token is refused as before: nothing to confirm.
    wrong = Client(enforce_csrf_checks=True)
    wrong.cookies["csrftoken"] = "x" * 32
    refused = wrong.post("/cart/add/", {**sent, "csrfmiddlewaretoken": "y" * 64})
    assert refused.status_code == 403 and "One more step" not in refused.content.decode()


@pytest.mark.django_db
def test_the_csrf_token_for_a_page_of_the_edge_is_the_visitors_own():
    visitor = Client(enforce_csrf_checks=True)
    response = visitor.get("/csrf/")
    assert response["Cache-Control"] == "private, no-store"
    secret = response.cookies["csrftoken"].value
    assert _unmask_cipher_token(response.json()["token"]) == secret


@pytest.mark.django_db(transaction=True)
def test_a_purge_an_edge_did_not_take_waits_in_the_outbox(settings):
    closed = spare_port()  # nothing listens there
    settings.SHELF_EDGE_CACHES = [f"http://127.0.0.1:{closed}"]
    with transaction.atomic():
        product = ProductFactory()
    rows = list(PendingBump.objects.all())
    assert rows and {r.edge for r in rows} == {f"http://127.0.0.1:{closed}"}
    assert f"product:{product.pk}" in {t for r in rows for t in r.tags}
    assert outbox.drain_now() == 0 and PendingBump.objects.count() == len(rows)


# THROUGH VARNISH
# ------------------------------------------------------------------------------------------------
class Visitor:
    """HTTP through the edge with a visitor's cookies (no JavaScript, redirects not followed)."""

    def __init__(self, port: int, cookies: dict[str, str] | None = None) -> None:
        self.port = port
        self.cookies = dict(cookies or {})

    def request(self, method: str, path: str, form: dict | None = None):
        headers = {"Host": "127.0.0.1"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Origin"] = "http://127.0.0.1"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode(errors="replace")
        finally:
            conn.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return response, text

    def get(self, path: str):
        return self.request("GET", path)

    def post(self, path: str, form: dict):
        return self.request("POST", path, form)


@pytest.fixture
def edge_stack(settings):
    """A gunicorn behind a varnishd; this process and the gunicorn purge that varnishd."""
    varnishd_path()  # skip (or fail in CI) before starting anything
    edge_port = spare_port()
    settings.SHELF_EDGE_CACHES = [f"http://127.0.0.1:{edge_port}"]
    database_url = database_url_for(connection.settings_dict["NAME"])
    with (
        gunicorn_server(database_url, SHELF_EDGE_CACHES=settings.SHELF_EDGE_CACHES[0]) as app,
        varnish_server([app.port], port=edge_port) as varnish,
    ):
        yield app, varnish


def _shown(text: str) -> tuple[Decimal, int]:
    price, units = PRICE.search(text), UNITS.search(text)
    assert price and units, text[:2000]
    return Decimal(price[1].replace(",", "")), int(units[1])


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_read_through_the_edge_after_a_save_is_never_stale(edge_stack):
    """1,000 rounds: a save (a new price every tenth round, else a new stock level), then a read
    through the edge, which must show it, then a second read, which the edge answers. Meanwhile
    a reader thread keeps reading the same page through the edge, so that fetches are in flight
    during purges (the edge must keep none that started before one)."""
    _app, varnish = edge_stack
    product = ProductFactory(price=Decimal("99.99"), stock__quantity=9)
    stock = product.stock
    path = product.get_absolute_url()
    visitor = Visitor(varnish.port)
    assert _shown(visitor.get(path)[1]) == (product.price, 9)
    stop = threading.Event()
    background = {"reads": 0, "errors": 0}

    def keep_reading() -> None:
        other = Visitor(varnish.port)
        while not stop.wait(0.002):  # a few hundred reads a second, not all the machine
            response, _ = other.get(path)
            background["reads"] += 1
            background["errors"] += response.status != 200

    reader = threading.Thread(target=keep_reading, daemon=True)
    reader.start()
    stale, hits = [], 0
    started = time.monotonic()
    saving = 0.0
    try:
        for n in range(ROUNDS):
            t0 = time.monotonic()
            with transaction.atomic():  # as the admin's change view saves
                if n % 10 == 0:
                    product.price = Decimal("100.00") + Decimal(n) / 100
                    product.save()
                else:
                    stock.quantity = 1 + n % 9  # never the previous round's
                    stock.save()
            saving += time.monotonic() - t0
            new = (product.price, stock.quantity)
            for _ in range(2):
                response, text = visitor.get(path)
                assert response.status == 200
                hits += response.getheader("X-Edge") == "hit"
                if _shown(text) != new:
                    stale.append((n, response.getheader("X-Edge"), _shown(text), new))
    finally:
        stop.set()
        reader.join(10)
    took = time.monotonic() - started
    print(
        f"\nedge freshness: {ROUNDS} rounds, {2 * ROUNDS} reads ({hits} edge hits) and "
        f"{background['reads']} background reads in {took:.1f} s (saves {saving:.1f} s), "
        f"{len(stale)} stale"
    )
    assert not stale, f"{len(stale)} stale reads; first (round, edge, shown, saved): {stale[:5]}"
    assert background["errors"] == 0
    assert hits >= ROUNDS // 2, f"the edge answered only {hits} reads: is it caching at all?"
    assert "xkey" not in visitor.get(path)[0].headers, "the tags are not for the browser"


def _crawl_urls(goods: dict, who: dict) -> list[str]:
    return [
        "/", "/c/household/", "/c/lamps/?sort=price", "/search/?q=lantern", "/search/?q=bulb",
        *(f"/p/{slug}/" for slug in goods), f"/api/v1/products/{goods['alpha'].pk}",
        "/api/v1/search?q=sconce", "/cart/", "/checkout/", "/orders/",
        *(f"/orders/{w['order']}/" for w in who.values()), "/accounts/login/",
        "/sitemap-products.xml", "/csrf/",
    ]  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_a_crawl_through_the_edge_shows_no_visitor_anyone_elses_data(edge_stack, people):  # noqa: F811
    """An anonymous visitor, two signed-in shoppers and a guest with a cart, each crawling the
    shop in turn through the edge, twice: every response the edge kept (or answered from what
    it kept) has no visitor's data and no token; the others show each only their own."""
    _app, varnish = edge_stack
    goods, who = people["goods"], people["who"]
    visitors = {"nobody": Visitor(varnish.port)}
    for name, w in who.items():
        visitors[name] = Visitor(varnish.port, {"sessionid": w["session"], "csrftoken": w["csrf"]})
    everyone = [s for w in who.values() for s in _secrets(w)]
    urls = _crawl_urls(goods, who)
    order = list(visitors)
    kept = passed = 0
    for round_ in range(2):
        for i, url in enumerate(urls):
            for name in order[(i + round_) % 4 :] + order[: (i + round_) % 4]:
                response, text = visitors[name].get(url)
                assert response.status < 500, (name, url)
                assert "xkey" not in response.headers, (name, url)
                seen = text + "".join(f"{k}: {v}\n" for k, v in response.getheaders())
                if response.getheader("X-Edge") in ("hit", "miss"):  # kept for everyone
                    kept += 1
                    assert name == "nobody", (name, url, "a visitor's page was kept")
                    assert not response.getheader("Set-Cookie"), url
                    assert all(t == "" for t in TOKEN.findall(text)), url
                    for secret in everyone:
                        assert secret not in seen, (url, "kept for everyone with", secret)
                    continue
                passed += 1
                for other_name, other in who.items():
                    if other_name != name:
                        for secret in _secrets(other):
                            assert secret not in seen, (name, url, "sees", other_name, secret)
                if name in who:
                    for token in TOKEN.findall(text):
                        assert _unmask_cipher_token(token) == who[name]["csrf"], (name, url)
                    if url == "/cart/":
                        assert who[name]["product_name"] in text, (name, "lost their cart")
    newcomer = Visitor(varnish.port)
    hits = sum(newcomer.get(u)[0].getheader("X-Edge") == "hit" for u in urls[:9])
    print(f"\nedge crawl: {kept} responses kept for everyone, {passed} passed through, no leak")
    assert hits == 9, "the shared pages are answered by the edge"


@pytest.mark.django_db(transaction=True)
def test_a_shopper_without_javascript_buys_through_the_edge(edge_stack):
    _app, varnish = edge_stack
    product = ProductFactory(price=Decimal("12.50"), stock__quantity=5)
    path = product.get_absolute_url()
    Visitor(varnish.port).get(path)  # someone else's visit: the edge keeps the page
    shopper = Visitor(varnish.port)
    response, page = shopper.get(path)
    assert response.getheader("X-Edge") == "hit" and TOKEN.findall(page) == [""]
    form = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', page))
    form["quantity"] = "2"
    # The form as the page has it: no token. The next page asks to confirm, with one.
    response, confirm = shopper.post("/cart/add/", form)
    assert response.status == 403 and "One more step" in confirm
    fields = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', confirm))
    assert fields["csrfmiddlewaretoken"] and fields["product"] == str(product.pk)
    response, _ = shopper.post("/cart/add/", fields)
    assert response.status == 302, response.status
    response, cart = shopper.get("/cart/")
    assert response.getheader("X-Edge") == "pass" and product.name in cart
    response, checkout = shopper.get("/checkout/")
    token = TOKEN.findall(checkout)[0]
    details = {**_details("Nora Noscript", "nora@example.com"), "csrfmiddlewaretoken": token}
    response, _ = shopper.post("/checkout/", details)
    assert response.status == 302, response.status
    response, review = shopper.get("/checkout/review/")
    hidden = dict(re.findall(r'type="hidden" name="(token|seen_total)" value="([^"]*)"', review))
    token = TOKEN.findall(review)[0]
    response, _ = shopper.post(
        "/checkout/place/",
        {**hidden, "card_number": "4242424242424242", "csrfmiddlewaretoken": token},
    )
    assert response.status == 302 and response.getheader("Location").startswith("/orders/")
    response, order = shopper.get(response.getheader("Location"))
    assert response.status == 200 and "Nora Noscript" in order
    # The order's stock change purged the page at the edge: the next visitor sees 3 left.
    response, page = Visitor(varnish.port).get(path)
    assert _shown(page) == (Decimal("12.50"), 3) and response.getheader("X-Edge") == "miss"


@pytest.mark.django_db(transaction=True)
def test_an_edge_that_was_down_gets_its_purges_from_the_outbox(settings):
    varnishd_path()
    database_url = database_url_for(connection.settings_dict["NAME"])
    product = ProductFactory(price=Decimal("5.00"), stock__quantity=5)
    path = product.get_absolute_url()
    with (
        gunicorn_server(database_url) as app,
        varnish_server([app.port]) as varnish,
        tcp_proxy("127.0.0.1", varnish.port) as way_to_the_edge,
    ):
        settings.SHELF_EDGE_CACHES = [f"http://127.0.0.1:{way_to_the_edge.port}"]
        visitor = Visitor(varnish.port)
        visitor.get(path)
        assert visitor.get(path)[0].getheader("X-Edge") == "hit"
        # No purge before the commit: until then the edge keeps answering with the page.
        with transaction.atomic():
            product.price = Decimal("5.50")
            product.save()
            response, text = visitor.get(path)
            assert response.getheader("X-Edge") == "hit" and _shown(text)[0] == Decimal("5.00")
        response, text = visitor.get(path)
        assert response.getheader("X-Edge") == "miss" and _shown(text)[0] == Decimal("5.50")
        # The edge stops answering (hung, or cut off): the purge waits in the outbox.
        way_to_the_edge.freeze()
        with transaction.atomic():
            product.price = Decimal("6.00")
            product.save()
        assert PendingBump.objects.filter(edge=settings.SHELF_EDGE_CACHES[0]).exists()
        assert outbox.drain_now() == 0, "still unreachable: the rows stay"
        assert _shown(visitor.get(path)[1])[0] == Decimal("5.50"), "not purged yet"
        way_to_the_edge.thaw()
        assert outbox.drain_now() >= 1
        assert not PendingBump.objects.exists()
        assert _shown(visitor.get(path)[1])[0] == Decimal("6.00")
