"""Catalog pages from the shelf: zero SQL on a hit, fresh on the next request after a save."""

import re
import time
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from redis.connection import Connection

import shelf.core
from catalog.cache import PAGE
from inventory.models import Stock
from shelf import backend, stats
from shelf.core import entry_envelope, tag_key
from shelf.tests.servers import redis_server

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def round_trips(monkeypatch):
    """Count Redis round trips: each one sends one packed command (a pipeline sends one)."""
    sent = []
    original = Connection.send_packed_command

    def counting(self, command, check_health=True):
        sent.append(command)
        return original(self, command, check_health)

    monkeypatch.setattr(Connection, "send_packed_command", counting)
    return sent


def warm(client: Client, *urls: str) -> None:
    for url in urls:
        client.get(url)


def _data_trips(sent: list) -> list:
    """The commands that wait for an answer: not the L1 channel's PINGs (sent, never awaited)."""
    packed = [b"".join(c) if isinstance(c, list | tuple) else c for c in sent]
    return [c for c in packed if c != b"*1\r\n$4\r\nPING\r\n"]


def test_product_page_hit_costs_one_round_trip_and_none_from_l1(
    catalog, client, django_assert_num_queries, round_trips
):
    product = catalog["products"][0]
    warm(client, f"/p/{product.slug}/", f"/p/{product.slug}/")
    shelf.core.l1_empty()
    stats.maybe_flush(force=True)  # no counter flush in the requests below
    round_trips.clear()
    with django_assert_num_queries(0):
        response = client.get(f"/p/{product.slug}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert product.name in body and "$500.00" in body and "Only 3 left" in body
    assert 'name="csrfmiddlewaretoken"' in body
    # The page, its tag versions and the stock of the nine products it shows: one script.
    assert len(_data_trips(round_trips)) == 1, round_trips
    round_trips.clear()
    with django_assert_num_queries(0):
        again = client.get(f"/p/{product.slug}/")
    assert "Only 3 left" in again.content.decode()
    assert _data_trips(round_trips) == [], "L1 held the page and its stock"


def test_the_csrf_token_of_a_cached_page_is_accepted(catalog):
    product = catalog["products"][1]
    client = Client(enforce_csrf_checks=True)
    first = client.get(f"/p/{product.slug}/")
    assert "csrftoken" in first.cookies, "a new visitor gets the cookie"
    second = client.get(f"/p/{product.slug}/")
    # Not sent again with every page, and the page (its token is the visitor's) stays private.
    assert "csrftoken" not in second.cookies
    assert second["Cache-Control"] == "private, no-store" and "Cookie" in second["Vary"]
    page = second.content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert len(token) == 64 and token not in page.replace(token, "", 1)
    refused = client.post("/cart/add/", {"product": product.pk, "quantity": 1})
    assert refused.status_code == 403
    added = client.post(
        "/cart/add/", {"product": product.pk, "quantity": 1, "csrfmiddlewaretoken": token}
    )
    assert added.status_code in (200, 302), added.status_code


@pytest.mark.also_on("cluster")
def test_category_and_home_pages_on_a_warm_shelf_run_no_sql(
    catalog, client, django_assert_num_queries
):
    urls = ["/", "/c/computers/", "/c/laptops/?sort=price&page=2", "/api/v1/products/%d"]
    urls[-1] %= catalog["products"][1].pk
    warm(client, *urls)
    for url in urls:
        with django_assert_num_queries(0):
            assert client.get(url).status_code == 200


@pytest.mark.also_on("cluster")
def test_listing_pages_show_subcategories_products_sorted_and_paged(catalog, client):
    body = client.get("/c/computers/?sort=price").content.decode()
    assert "30 products" in body and "Page 1 of 2" in body
    assert body.index("Nordvik X0 Laptop") < body.index("Nordvik X1 Laptop")
    body = client.get("/c/laptops/?sort=-price&page=2").content.decode()
    assert "Nordvik X5 Laptop" in body and "Nordvik X29 Laptop" not in body


@pytest.mark.also_on("cluster")
def test_price_changed_in_the_admin_is_visible_everywhere_on_the_next_request(catalog, client):
    product = catalog["products"][-1]  # top rated and newest: on the home page too
    product.refresh_from_db()
    urls = [f"/p/{product.slug}/", "/c/laptops/", "/c/computers/?sort=rating", "/"]
    warm(client, *urls, f"/api/v1/products/{product.pk}")
    admin = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw")
    staff = Client()
    staff.force_login(admin)
    form = {
        "name": product.name, "slug": product.slug, "sku": product.sku, "brand": product.brand,
        "model": product.model, "attributes": "{}", "description": product.description,
        "price": "123.45", "category": product.category_id, "rating": str(product.rating),
        "review_count": product.review_count, "is_active": "on",
        "created_at_0": product.created_at.strftime("%Y-%m-%d"),
        "created_at_1": product.created_at.strftime("%H:%M:%S"),
        "stock-TOTAL_FORMS": 1, "stock-INITIAL_FORMS": 1, "stock-MIN_NUM_FORMS": 1,
        "stock-MAX_NUM_FORMS": 1, "stock-0-quantity": 25, "stock-0-product": product.pk,
        "images-TOTAL_FORMS": 0, "images-INITIAL_FORMS": 0,
        "images-MIN_NUM_FORMS": 0, "images-MAX_NUM_FORMS": 1000,
    }  # fmt: skip
    response = staff.post(f"/admin/catalog/product/{product.pk}/change/", form)
    assert response.status_code == 302, (
        response.context["adminform"].form.errors,
        [f.formset.errors for f in response.context["inline_admin_formsets"]],
    )
    for url in urls:
        body = client.get(url).content.decode()
        assert "$123.45" in body, url
        assert "$529.00" not in body, url
    assert client.get(f"/api/v1/products/{product.pk}").json()["price"] == "123.45"


@pytest.mark.also_on("cluster")
def test_admin_save_writes_the_product_entry_through(catalog, client, django_assert_num_queries):
    product = catalog["products"][4]
    product.price = Decimal("99.00")
    product.save()  # outside a transaction: on_commit runs at once
    with django_assert_num_queries(0):
        assert client.get(f"/api/v1/products/{product.pk}").json()["price"] == "99.00"


@pytest.mark.also_on("cluster")
def test_bulk_price_action_invalidates_without_signals(catalog, client):
    product = catalog["products"][2]
    warm(client, f"/p/{product.slug}/")
    admin = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw")
    staff = Client()
    staff.force_login(admin)
    response = staff.post(
        "/admin/catalog/product/",
        {"action": "change_price", "_selected_action": [product.pk], "apply": 1, "percent": -10},
    )
    assert response.status_code == 302
    assert "$451.80" in client.get(f"/p/{product.slug}/").content.decode()


@pytest.mark.also_on("cluster")
def test_moved_product_leaves_its_old_listing_and_joins_the_new_one(catalog, client):
    product = catalog["products"][0]
    warm(client, "/c/laptops/?sort=price", "/c/tablets/")
    product.category = catalog["tablets"]
    product.save()
    assert product.name not in client.get("/c/laptops/?sort=price").content.decode()
    assert product.name in client.get("/c/tablets/").content.decode()


@pytest.mark.also_on("cluster")
def test_deactivated_product_disappears(catalog, client):
    product = catalog["products"][0]
    warm(client, f"/p/{product.slug}/", "/c/laptops/?sort=price")
    product.is_active = False
    product.save()
    assert client.get(f"/p/{product.slug}/").status_code == 404
    assert product.name not in client.get("/c/laptops/?sort=price").content.decode()


@pytest.mark.also_on("cluster")
def test_stock_change_updates_the_badge_but_not_the_product_entry(catalog, client):
    product = catalog["products"][0]
    warm(client, f"/p/{product.slug}/")
    r = backend.client()
    tags = [tag_key(f"product:{product.pk}"), tag_key(f"stock:{product.pk}")]
    entry, (product_tag, stock_tag) = (
        r.get(PAGE.key(product.slug)),
        backend.mget(r, tags),
    )
    stock = Stock.objects.get(product=product)
    stock.quantity = 0
    stock.save()
    assert "Out of stock" in client.get(f"/p/{product.slug}/").content.decode()
    # The stock tag moved, the product's did not: its page entry is still valid, not reloaded.
    assert backend.mget(r, tags)[0] == product_tag and backend.mget(r, tags)[1] != stock_tag
    assert entry is not None and r.get(PAGE.key(product.slug)) == entry


def _buy_box(html: str) -> str:
    return re.search(r'<form[^>]*class="add-to-cart".*?</form>', html, re.S).group(0)


def test_sold_out_product_disables_add_to_cart_on_the_next_request_without_sql(
    catalog, client, django_assert_num_queries
):
    product = catalog["products"][0]  # 3 on hand
    warm(client, f"/p/{product.slug}/")
    with django_assert_num_queries(0):
        box = _buy_box(client.get(f"/p/{product.slug}/").content.decode())
    assert '<button type="submit" class="button-big">Add to cart</button>' in box
    assert 'max="3"' in box  # the quantity box stops at the stock
    stock = Stock.objects.get(product=product)
    stock.quantity = 0
    stock.save()
    with django_assert_num_queries(0):
        html = client.get(f"/p/{product.slug}/").content.decode()
    box = _buy_box(html)
    assert '<button type="submit" class="button-big" disabled>Out of stock</button>' in box
    assert 'name="quantity"' not in box and "Add to cart" not in box
    # Back in stock: the same shared entry offers the button again at once.
    stock.quantity = 40
    stock.save()
    with django_assert_num_queries(0):
        box = _buy_box(client.get(f"/p/{product.slug}/").content.decode())
    assert "disabled" not in box and 'max="40"' in box


@pytest.mark.parametrize(
    "url",
    [
        "/p/no-such-product/",
        "/c/no-such-category/",
        "/c/laptops/?page=abc",
        "/c/laptops/?page=-1",
        "/c/laptops/?page=0",
        "/c/laptops/?page=99999999",
        "/c/laptops/?sort=drop",
        "/api/v1/products/999999999",
    ],
)
def test_bad_urls_give_the_shops_404(catalog, client, url):
    response = client.get(url)
    assert response.status_code == 404
    if not url.startswith("/api/"):
        assert "We could not find that page" in response.content.decode()


def test_page_past_the_end_is_404_but_the_last_page_works(catalog, client):
    assert client.get("/c/laptops/?page=2").status_code == 200
    assert client.get("/c/laptops/?page=3").status_code == 404


@pytest.mark.also_on("cluster")
def test_shared_pages_carry_no_visitor_data(catalog):
    product = catalog["products"][0]
    user = get_user_model().objects.create_user("alice", "alice@example.com", "pw")
    alice = Client()
    alice.force_login(user)
    alice_body = alice.get(f"/p/{product.slug}/").content.decode()
    anon_body = Client().get(f"/p/{product.slug}/").content.decode()
    assert "alice" in alice_body
    assert "alice" not in anon_body
    from django_redis import get_redis_connection

    stored = entry_envelope(get_redis_connection("default").get(PAGE.key(product.slug)))
    html = stored["d"]["html"]
    assert product.name in html  # the page itself, decompressed
    assert "alice" not in html and 'csrfmiddlewaretoken" value' not in html


def test_sitemap_index_lists_sections(catalog, client):
    index = client.get("/sitemap.xml").content.decode()
    assert "sitemap-products.xml" in index and "sitemap-categories.xml" in index
    products = client.get("/sitemap-products.xml").content.decode()
    assert f"/p/{catalog['products'][0].slug}/" in products


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["kill", "pause"])
def test_pages_answer_from_postgresql_when_the_cache_redis_fails(catalog, fault):
    product = catalog["products"][0]
    urls = ["/", "/c/computers/", "/c/laptops/?page=2", f"/p/{product.slug}/"]
    with redis_server() as server:
        caches = _caches_at(server.url)
        with override_settings(CACHES=caches):
            client = Client()
            warm(client, *urls)
            getattr(server, fault)()
            try:
                for _ in range(3):
                    for url in urls:
                        started = time.monotonic()
                        response = client.get(url)
                        elapsed = time.monotonic() - started
                        assert response.status_code == 200, url
                        assert "Nordvik" in response.content.decode(), url
                        assert elapsed < 1.0, (url, elapsed)
                assert backend.breaker.current_state == "open"
            finally:
                if fault == "pause":
                    server.resume()


def _caches_at(url: str) -> dict:
    from django.conf import settings

    caches = {alias: dict(conf) for alias, conf in settings.CACHES.items()}
    caches["default"] = {
        **caches["default"],
        "LOCATION": url,
        "OPTIONS": {**caches["default"]["OPTIONS"], "SOCKET_TIMEOUT": 0.2,
                    "SOCKET_CONNECT_TIMEOUT": 0.2},
    }  # fmt: skip
    return caches


def test_a_price_only_save_keeps_search_results_cached(catalog, client, django_assert_num_queries):
    product = catalog["products"][-1]
    client.get("/search/?q=x29")
    client.get("/search/?q=x29")
    product.refresh_from_db()
    product.price = Decimal("77.77")
    product.save()
    with django_assert_num_queries(0):
        body = client.get("/search/?q=x29").content.decode()
    assert "$77.77" in body
    product.name = "Nordvik Renamed Laptop"
    product.save()
    assert "Nordvik Renamed Laptop" in client.get("/search/?q=x29").content.decode()
