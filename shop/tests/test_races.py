"""Races through the whole site: shoppers pressing "Place order" at once, and a randomized
consistency checker in the style of Redis's consistency test (writers change prices and stock
while readers read pages; every read is checked against the commits that preceded it).

The apps' own race tests repeat where they live (`@pytest.mark.repeat(n)`, each run a fresh
test with fresh Redis and tables): the set-after-delete race (shelf/tests/test_core.py) 25
times, two-line orders in opposite orders and reservations in slow opposite transactions
(orders/tests/test_concurrency.py) 5 times each, four concurrent submits of one checkout
(orders/tests/test_checkout.py) 10 times. Here: the oversell through the pages, 3 rounds of 16
shoppers for 5 units (on top of the 20 rounds of 50 service-level checkouts for 10 units in
orders/tests/test_concurrency.py).
"""

import random
import re
import threading
import time
from collections import Counter
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models import F
from django.test import Client

from catalog.models import Product
from catalog.services import products_changed
from catalog.tests.factories import CategoryFactory, ProductFactory
from inventory.models import Stock
from inventory.selectors import stock_get_many
from inventory.services import stock_reserve
from orders.models import Order
from orders.tests.factories import APPROVED_CARD, DETAILS

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _shopper_at_review(product) -> tuple[Client, dict]:
    client = Client()
    client.post("/cart/add/", {"product": product.pk, "quantity": 1})
    assert client.post("/checkout/", DETAILS).status_code == 302
    body = client.get("/checkout/review/").content.decode()
    form = dict(re.findall(r'type="hidden" name="(token|seen_total)" value="([^"]*)"', body))
    return client, {**form, "card_number": APPROVED_CARD}


@pytest.mark.parametrize("round_", range(3))
def test_sixteen_shoppers_press_place_order_at_once_for_five_units(round_):
    product = ProductFactory(name=f"Round {round_} Kettle", stock__quantity=5)
    shoppers = [_shopper_at_review(product) for _ in range(16)]
    barrier = threading.Barrier(len(shoppers))
    outcomes: list[str] = []

    def press(client: Client, form: dict) -> None:
        try:
            barrier.wait()
            response = client.post("/checkout/place/", form)
            outcomes.append(response.url.split("/")[1] if response.status_code == 302 else "?")
        except Exception as exc:  # recorded: a thread must not fail quietly
            outcomes.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=press, args=s) for s in shoppers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    # An order page for the 5 who got one, back to the cart (out of stock) for the 11 others.
    assert Counter(outcomes) == {"orders": 5, "cart": 11}, outcomes
    assert Order.objects.filter(lines__product=product).count() == 5
    assert Stock.objects.get(product=product).quantity == 0
    assert stock_get_many([product.pk]) == {product.pk: 0}


# --- Randomized consistency check -------------------------------------------------------------

PRODUCTS, WRITERS, READERS, SECONDS = 6, 3, 5, 8.0
_PRICE = re.compile(r'class="price big">\$([\d.]+)<')


def _write_price(pid: int) -> tuple[Decimal, float]:
    """Raise the price by a cent (atomically, so committed prices only grow); return the new
    price and when its transaction committed (before the after-commit bumps ran)."""
    committed = []
    with transaction.atomic():
        Product.objects.filter(pk=pid).update(price=F("price") + Decimal("0.01"))
        price = Product.objects.filter(pk=pid).values_list("price", flat=True).get()
        transaction.on_commit(lambda: committed.append(time.monotonic()))
        products_changed([pid], price_only=True)
    return price, committed[0]


def _write_stock(pid: int) -> tuple[int, float]:
    """Sell one unit (stock only falls); return the new level and the commit time."""
    committed = []
    with transaction.atomic():
        transaction.on_commit(lambda: committed.append(time.monotonic()))
        stock_reserve({pid: 1})
        left = Stock.objects.filter(product_id=pid).values_list("quantity", flat=True).get()
    return left, committed[0]


def test_randomized_readers_never_see_a_value_older_than_a_finished_write():
    """Writers raise prices and sell stock; readers read the product API, the product page and
    the stock entry. The documented bound: a write is visible to every read that starts after
    the write returned (its commit plus its after-commit bumps, one Redis round trip). Reads in
    the commit-to-bump window may still see the previous value: that window is measured."""
    products = [
        ProductFactory(
            name=f"Checker {i}", category=CategoryFactory(leaf=True), price=Decimal("10.00"),
            stock__quantity=100_000,
        )
        for i in range(PRODUCTS)
    ]  # fmt: skip
    ids = [p.pk for p in products]
    slugs = {p.pk: p.slug for p in products}
    writes: list[tuple[int, str, object, float, float]] = []  # pid, kind, value, commit, done
    reads: list[tuple[int, str, object, float]] = []  # pid, kind, value, started
    errors: list[str] = []
    lock = threading.Lock()
    stop = time.monotonic() + SECONDS

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        try:
            while time.monotonic() < stop:
                pid = rng.choice(ids)
                if rng.random() < 0.5:
                    value, committed = _write_price(pid)
                    kind = "price"
                else:
                    value, committed = _write_stock(pid)
                    kind = "stock"
                with lock:
                    writes.append((pid, kind, value, committed, time.monotonic()))
                time.sleep(rng.uniform(0, 0.01))
        except Exception as exc:
            errors.append(f"writer: {exc!r}")
        finally:
            connection.close()

    def reader(seed: int) -> None:
        rng = random.Random(seed)
        client = Client()
        try:
            while time.monotonic() < stop:
                pid, how = rng.choice(ids), rng.randrange(3)
                started = time.monotonic()
                if how == 0:
                    value, kind = (
                        Decimal(client.get(f"/api/v1/products/{pid}").json()["price"]),
                        "price",
                    )
                elif how == 1:
                    body = client.get(f"/p/{slugs[pid]}/").content.decode()
                    value, kind = Decimal(_PRICE.search(body).group(1)), "price"
                else:
                    value, kind = stock_get_many([pid])[pid], "stock"
                with lock:
                    reads.append((pid, kind, value, started))
        except Exception as exc:
            errors.append(f"reader: {exc!r}")
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
    threads += [threading.Thread(target=reader, args=(100 + i,)) for i in range(READERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(SECONDS + 60)
    assert not errors, errors[:5]

    def newer_or_same(kind: str, seen, written) -> bool:
        return seen >= written if kind == "price" else seen <= written

    violations, in_window = [], []
    for pid, kind, seen, started in reads:
        done = [w for w in writes if w[0] == pid and w[1] == kind and w[4] <= started]
        if done:
            last = max(done, key=lambda w: w[4])
            if not newer_or_same(kind, seen, last[2]):
                violations.append((pid, kind, str(seen), str(last[2]), round(started - last[4], 4)))
        committed = [w for w in writes if w[0] == pid and w[1] == kind and w[3] <= started]
        if committed:
            last = max(committed, key=lambda w: w[3])
            if not newer_or_same(kind, seen, last[2]):
                in_window.append(started - last[3])
    bump_lag = max((w[4] - w[3] for w in writes), default=0.0)
    print(
        f"\nconsistency: {len(writes)} writes, {len(reads)} reads, {len(violations)} reads older "
        f"than a finished write, {len(in_window)} in a commit-to-bump window (longest "
        f"{max(in_window, default=0):.4f} s; longest commit-to-bump {bump_lag:.4f} s)"
    )
    assert len(writes) > 50 and len(reads) > 200
    assert not violations, violations[:10]

    # After the writers stop, every page agrees with PostgreSQL.
    client = Client()
    for product in Product.objects.filter(pk__in=ids):
        price = f"{product.price:.2f}"
        assert client.get(f"/api/v1/products/{product.pk}").json()["price"] == price
        assert f"${price}" in client.get(f"/p/{product.slug}/").content.decode()
        assert f"${price}" in client.get(f"/c/{product.category.slug}/").content.decode()
        assert stock_get_many([product.pk]) == {
            product.pk: Stock.objects.get(product=product).quantity
        }
