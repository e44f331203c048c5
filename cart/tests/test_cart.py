"""The cart in the state Redis: atomic changes, write-behind, rebuild from PostgreSQL, bad input."""

import re
import threading
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django_redis import get_redis_connection

from cart import services, store
from cart.models import Cart
from catalog.tests.factories import ProductFactory
from shelf.tests.servers import redis_server

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def products():
    return [ProductFactory(price=Decimal("10.00") + i, stock__quantity=50) for i in range(3)]


@pytest.fixture
def shopper():
    user = get_user_model().objects.create_user("alice", "alice@example.com", "pw-alice-123")
    client = Client()
    client.force_login(user)
    return user, client


def add(client: Client, product, quantity=1, follow=False, **extra):
    form = {"product": product.pk, "quantity": quantity, **extra}
    return client.post("/cart/add/", form, follow=follow)


def lines(user) -> dict[int, int]:
    return store.lines_of(store.read(services.owner_for_user(user.pk)) or {})


@pytest.mark.also_on("sentinel")
def test_add_update_remove_and_the_cart_page(products, shopper):
    user, client = shopper
    add(client, products[0], 2)
    add(client, products[1], 1)
    client.post("/cart/update/", {"product": products[1].pk, "quantity": 4})
    client.post("/cart/remove/", {"product": products[0].pk})
    assert lines(user) == {products[1].pk: 4}
    body = client.get("/cart/").content.decode()
    assert products[1].name in body and "$44.00" in body and "Subtotal (4 items)" in body
    assert 'id="cart-count">4<' in client.get("/").content.decode()


@pytest.mark.also_on("sentinel")
def test_concurrent_adds_of_the_same_line_both_count(products, shopper):
    user, client = shopper
    add(client, products[0], 1)
    cookies = client.cookies
    barrier = threading.Barrier(10)

    statuses: list[int] = []  # an assert inside a thread would only print a warning

    def one_add():
        c = Client()
        c.cookies = cookies
        barrier.wait()
        statuses.append(add(c, products[0], 1).status_code)

    threads = [threading.Thread(target=one_add) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [302] * 10
    assert lines(user) == {products[0].pk: 11}


@pytest.mark.parametrize("quantity", ["0", "-1", "100", "1e3", str(2**63), "abc", "1_000", ""])
def test_bad_quantities_get_a_message_and_store_nothing(products, shopper, quantity):
    user, client = shopper
    response = client.post(
        "/cart/add/", {"product": products[0].pk, "quantity": quantity}, follow=True
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Enter a quantity from 1 to 99." in body and "quantity:" not in body
    assert lines(user) == {}


@pytest.mark.parametrize("product", ["999999", "abc", "-3", "", "1.5", "9" * 30])
def test_unknown_or_malformed_products_are_refused(products, shopper, product):
    user, client = shopper
    response = client.post("/cart/add/", {"product": product, "quantity": 1}, follow=True)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Sorry, that product is not available." in body and "product:" not in body
    assert lines(user) == {}


def test_quantity_is_capped_by_stock_and_by_99(shopper):
    user, client = shopper
    scarce = ProductFactory(stock__quantity=3)
    plenty = ProductFactory(stock__quantity=500)
    add(client, scarce, 2)
    response = client.post(
        "/cart/add/", {"product": scarce.pk, "quantity": 2, "next": "/cart/"}, follow=True
    )
    assert "at most 3 of this product" in response.content.decode()
    add(client, plenty, 60)
    response = client.post("/cart/add/", {"product": plenty.pk, "quantity": 60}, follow=True)
    assert "at most 99 of this product" in response.content.decode()
    assert lines(user) == {scarce.pk: 2, plenty.pk: 60}


def test_inactive_and_out_of_stock_products_are_refused(shopper):
    user, client = shopper
    hidden = ProductFactory(is_active=False)
    sold_out = ProductFactory(stock__quantity=0)
    body = add(client, hidden, follow=True).content.decode()
    assert "not available" in body
    body = add(client, sold_out, follow=True).content.decode()
    assert "out of stock" in body
    assert lines(user) == {}


def _line(body: str, product) -> str:
    """The cart page's <li> of this product."""
    for item in re.findall(r'<li class="cart-line.*?</li>', body, re.S):
        if f'name="product" value="{product.pk}"' in item:
            return item
    raise AssertionError(f"no line of product {product.pk}")


@pytest.mark.parametrize("quantity", ["0", "-1", "100", "", "abc", "2.5"])
def test_a_rejected_quantity_is_shown_beside_its_line_and_changes_nothing(
    products, shopper, quantity
):
    user, client = shopper
    add(client, products[0], 2)
    add(client, products[1], 1)
    client.post("/cart/remove/", {"product": 999999})  # an earlier, unrelated error
    response = client.post("/cart/update/", {"product": products[0].pk, "quantity": quantity})
    assert response.status_code == 400
    body = response.content.decode()
    line = _line(body, products[0])
    assert "Enter a quantity from 1 to 99. Your cart still has 2." in line
    assert f'value="{quantity}" inputmode="numeric" aria-invalid="true"' in line
    assert f'aria-describedby="qerr{products[0].pk}"' in line and "$20.00" in line
    assert "Enter a quantity" not in _line(body, products[1])
    assert "not available" not in body, "the earlier error is not shown again"
    assert "<title>Error: Your cart" in body
    assert lines(user) == {products[0].pk: 2, products[1].pk: 1}
    # The next page shows the cart as it is, without the refusal.
    assert "Enter a quantity" not in client.get("/cart/").content.decode()


def test_more_than_the_stock_is_refused_beside_the_line(shopper):
    user, client = shopper
    scarce = ProductFactory(stock__quantity=3)
    add(client, scarce, 2)
    response = client.post("/cart/update/", {"product": scarce.pk, "quantity": 5})
    assert response.status_code == 400
    assert "Only 3 left: enter 3 or fewer. Your cart still has 2." in _line(
        response.content.decode(), scarce
    )
    assert lines(user) == {scarce.pk: 2}


def test_a_refused_change_to_a_product_not_in_the_cart_is_said_at_the_top(products, shopper):
    user, client = shopper
    add(client, products[0], 1)
    response = client.post("/cart/update/", {"product": products[1].pk, "quantity": 0})
    assert response.status_code == 400
    body = response.content.decode()
    assert '<li class="message error">Enter a quantity from 1 to 99.</li>' in body
    assert 'class="line-error"' not in body and lines(user) == {products[0].pk: 1}


def test_plus_is_disabled_at_the_stock_limit_and_at_99(shopper):
    _, client = shopper
    scarce = ProductFactory(stock__quantity=3)
    plenty = ProductFactory(stock__quantity=500)
    add(client, scarce, 2)
    add(client, plenty, 99)
    body = client.get("/cart/").content.decode()
    assert re.search(rf'id="inc{scarce.pk}"[^>]*>\+', body), "enabled below the stock"
    client.post("/cart/update/", {"product": scarce.pk, "quantity": 3})
    body = client.get("/cart/").content.decode()
    assert re.search(rf'id="inc{scarce.pk}"[^>]* disabled>\+', body)
    assert re.search(rf'id="inc{plenty.pk}"[^>]* disabled>\+', body)


def _checkout_button(body: str) -> str:
    return re.search(r'<aside class="summary-box".*?</aside>', body, re.S).group(0)


@pytest.mark.parametrize("left", [0, 1])
def test_a_sold_out_or_short_line_disables_check_out_until_it_is_fixed(products, shopper, left):
    _, client = shopper
    add(client, products[0], 2)
    add(client, products[1], 1)
    stock = products[0].stock
    stock.quantity = left
    stock.save()  # as the admin (or another shopper's order) does: the shelf follows
    body = client.get("/cart/").content.decode()
    box = _checkout_button(body)
    assert '<button type="button" class="button-big" disabled' in box
    assert 'href="/checkout/"' not in box and "change the marked lines" in box
    assert ("Out of stock" if left == 0 else "Only 1 left") in _line(body, products[0])
    # Typed in by hand, checkout sends the shopper back before the address form.
    response = client.get("/checkout/", follow=True)
    assert response.redirect_chain == [("/cart/", 302)]
    assert "sold out or short of stock" in response.content.decode()
    if left:
        client.post("/cart/update/", {"product": products[0].pk, "quantity": 1})
    else:
        client.post("/cart/remove/", {"product": products[0].pk})
    box = _checkout_button(client.get("/cart/").content.decode())
    assert 'href="/checkout/">Check out</a>' in box and "disabled" not in box
    assert client.get("/checkout/").status_code == 200


@pytest.mark.parametrize("fee", ["4.95", "7.00"])
def test_the_cart_shows_shipping_as_checkout_will_charge_it(products, shopper, settings, fee):
    settings.ORDER_SHIPPING_FEE = Decimal(fee)
    _, client = shopper
    assert "<dt>Shipping</dt>" not in client.get("/cart/").content.decode(), "empty: no summary"
    add(client, products[0], 2)  # 2 x $10.00
    box = _checkout_button(client.get("/cart/").content.decode())
    total = Decimal("20.00") + Decimal(fee)
    assert f"<dt>Shipping</dt><dd>${fee}</dd>" in box and f"${total}</dd>" in box
    assert services.shipping_fee(1) == Decimal(fee) and services.shipping_fee(0) == 0


def test_post_without_csrf_token_is_403(products):
    client = Client(enforce_csrf_checks=True)
    assert add(client, products[0]).status_code == 403


def test_get_on_a_changing_url_is_405(shopper):
    _, client = shopper
    for url in ["/cart/add/", "/cart/update/", "/cart/remove/"]:
        assert client.get(url).status_code == 405


def test_next_redirects_only_to_this_site(products, shopper):
    _, client = shopper
    assert add(client, products[0], next="https://evil.example/").url == "/cart/"
    assert add(client, products[0], next="/p/x/").url == "/p/x/"


def test_each_shopper_sees_and_changes_only_their_own_cart(products, shopper):
    alice, alice_client = shopper
    bob = get_user_model().objects.create_user("bob", "bob@example.com", "pw-bob-12345")
    bob_client = Client()
    bob_client.force_login(bob)
    add(alice_client, products[0], 3)
    add(bob_client, products[1], 1)
    bob_client.post("/cart/remove/", {"product": products[0].pk})
    assert lines(alice) == {products[0].pk: 3}
    assert products[0].name not in bob_client.get("/cart/").content.decode()
    assert products[0].name not in Client().get("/cart/").content.decode()


def test_deactivated_product_is_shown_as_unavailable(products, shopper):
    _, client = shopper
    add(client, products[0], 1)
    products[0].is_active = False
    products[0].save()
    response = client.get("/cart/")
    assert response.status_code == 200
    assert "no longer available" in response.content.decode()


@pytest.mark.also_on("sentinel")
def test_anonymous_cart_merges_into_the_users_at_login_keeping_the_larger_quantity(products):
    user = get_user_model().objects.create_user("carol", "carol@example.com", "pw-carol-123")
    owner = services.owner_for_user(user.pk)
    services.cart_load(owner)
    store.add(owner, products[0].pk, 1, 99)
    store.add(owner, products[1].pk, 5, 99)
    client = Client()
    add(client, products[0], 4)
    add(client, products[1], 2)
    add(client, products[2], 1)
    before = client.session.session_key
    client.post("/accounts/login/", {"username": "carol", "password": "pw-carol-123"})
    assert client.session.session_key != before, "login must rotate the session key"
    assert lines(user) == {products[0].pk: 4, products[1].pk: 5, products[2].pk: 1}


@pytest.mark.also_on("sentinel")
def test_sync_writes_the_cart_and_never_lets_an_older_version_win(products, shopper):
    user, client = shopper
    owner = services.owner_for_user(user.pk)
    add(client, products[0], 2)
    assert store.dirty_count() == 1
    assert services.carts_sync_dirty() == 1
    cart = Cart.objects.get(owner=owner)
    assert dict(cart.lines.values_list("product_id", "quantity")) == {products[0].pk: 2}
    assert store.dirty_count() == 0
    version = cart.version
    assert services.carts_sync_dirty() == 0, "a second run changes nothing more"
    assert services.cart_sync(owner)
    assert Cart.objects.get(owner=owner).version == version
    # An older state arriving late (a slow sync of a previous version) must not win.
    Cart.objects.filter(owner=owner).update(version=version + 10)
    add(client, products[1], 1)
    services.carts_sync_dirty()
    assert dict(cart.lines.values_list("product_id", "quantity")) == {products[0].pk: 2}


@pytest.mark.also_on("sentinel")
def test_flushed_state_redis_brings_every_cart_back_as_of_its_last_sync(products, shopper):
    user, client = shopper
    add(client, products[0], 2)
    add(client, products[1], 3)
    services.carts_sync_dirty()
    get_redis_connection("state").flushdb()
    response = client.get("/cart/")
    assert response.status_code == 200, "the session survives the flush too"
    assert lines(user) == {products[0].pk: 2, products[1].pk: 3}
    add(client, products[2], 1)
    assert lines(user) == {products[0].pk: 2, products[1].pk: 3, products[2].pk: 1}


def test_idle_clean_carts_leave_redis_and_come_back(products, shopper, monkeypatch):
    user, client = shopper
    owner = services.owner_for_user(user.pk)
    add(client, products[0], 2)
    monkeypatch.setattr(services, "IDLE_SECONDS", -1)
    assert services.carts_evict_idle() == 0, "a dirty cart is never evicted"
    services.carts_sync_dirty()
    assert services.carts_evict_idle() == 1
    assert store.read(owner) is None
    assert lines(user) == {} and client.get("/cart/").status_code == 200
    assert lines(user) == {products[0].pk: 2}


def test_logged_in_product_page_on_a_warm_shelf_runs_no_sql(
    products, shopper, django_assert_num_queries
):
    _, client = shopper
    add(client, products[0], 1)
    url = f"/p/{products[0].slug}/"
    client.get(url)
    client.get(url)
    with django_assert_num_queries(0):
        body = client.get(url).content.decode()
    assert "Hi, alice" in body and 'id="cart-count">1<' in body


def test_the_header_leaves_the_count_out_while_the_state_redis_is_down(products):
    """Not "0": the shopper's cart is not empty, its count is just unknown for now."""
    user = get_user_model().objects.create_user("bob", "bob@example.com", "pw-bob-12345")
    with redis_server() as state_server:
        caches = {alias: dict(conf) for alias, conf in settings.CACHES.items()}
        caches["state"] = {**caches["state"], "LOCATION": state_server.url}
        with override_settings(CACHES=caches):
            client = Client()
            client.force_login(user)
            add(client, products[0], 2)
            assert 'id="cart-count">2<' in client.get("/").content.decode()
            state_server.kill()
            body = client.get("/").content.decode()
            assert "Hi, bob" in body  # the session came from PostgreSQL
            assert 'id="cart-count"></span>' in body and 'id="cart-count">0<' not in body
            assert client.get("/cart/badge/").content.decode().count('id="cart-count"></span>') == 1
    assert 'id="cart-count">0<' in Client().get("/").content.decode()  # no cart: a known 0
