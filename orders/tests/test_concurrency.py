"""Concurrent checkouts against real PostgreSQL: no overselling, no deadlocks.

Each thread has its own database connection (Django gives one per thread) and closes it when
done. The shelf entry is compared with PostgreSQL once every thread has finished.
"""

import time
from collections import Counter

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from catalog.tests.factories import ProductFactory
from inventory.cache import stock_get_many
from inventory.models import Stock
from inventory.services import stock_reserve
from orders.models import Order, OrderLine
from orders.tests.factories import cart_with, order_for
from orders.tests.threads import Crew, run_threads

pytestmark = pytest.mark.django_db(transaction=True)

SHOPPERS = 50
STOCK = 10
ROUNDS = 20


def test_fifty_checkouts_for_ten_units_sell_exactly_ten_every_time(django_assert_num_queries):
    started, hits = time.monotonic(), 0
    with Crew(SHOPPERS) as crew:  # the same threads and connections for every round
        for round_ in range(ROUNDS):
            product = ProductFactory(name=f"Round {round_} Lamp", stock__quantity=STOCK)
            owners = [f"s:r{round_}-{i}" for i in range(SHOPPERS)]
            for owner in owners:
                cart_with(owner, {product.pk: 1})
            results = crew.run(lambda i, owners=owners: order_for(owners[i]).number)

            kinds = Counter(kind for kind, _ in results)
            assert kinds == {"ok": STOCK, "refused": SHOPPERS - STOCK}, (round_, results)
            for kind, detail in results:
                if kind == "refused":
                    assert f"Round {round_} Lamp is out of stock (you asked for 1)" in detail
            assert Stock.objects.get(product=product).quantity == 0
            numbers = {detail for kind, detail in results if kind == "ok"}
            paid = Order.objects.filter(number__in=numbers, status=Order.Status.PAID)
            assert paid.count() == STOCK
            assert OrderLine.objects.filter(product=product).count() == STOCK
            # Reads through the shelf give PostgreSQL's value. Usually the entry the last sale
            # wrote through is a hit; a write-through that read an older tag version may land
            # last, and then this read reloads it (never serving the old value).
            with CaptureQueriesContext(connection) as first_read:
                assert stock_get_many([product.pk]) == {product.pk: 0}
            hits += not first_read.captured_queries
            with django_assert_num_queries(0):
                assert stock_get_many([product.pk]) == {product.pk: 0}
    elapsed = time.monotonic() - started
    print(
        f"\n{ROUNDS} rounds of {SHOPPERS} checkouts: {elapsed:.1f} s, {hits} warm after the burst"
    )


@pytest.mark.repeat(5)
def test_two_line_orders_in_opposite_orders_do_not_deadlock():
    first, second = ProductFactory(stock__quantity=100), ProductFactory(stock__quantity=100)
    owners = [f"s:pair{i}" for i in range(20)]
    for i, owner in enumerate(owners):
        pair = [first.pk, second.pk] if i % 2 else [second.pk, first.pk]
        cart_with(owner, dict.fromkeys(pair, 1 + i % 2))
    results = run_threads(20, lambda i: order_for(owners[i]).number)
    assert Counter(kind for kind, _ in results) == {"ok": 20}, results
    taken = sum(1 + i % 2 for i in range(20))
    assert Stock.objects.get(product=first).quantity == 100 - taken
    assert Stock.objects.get(product=second).quantity == 100 - taken


@pytest.mark.repeat(5)
def test_reservations_in_opposite_orders_inside_slow_transactions_do_not_deadlock():
    """The same at the service level, with each transaction held open after reserving so that
    the two locks of one order are always taken while the other orders hold theirs."""
    first, second = ProductFactory(stock__quantity=100), ProductFactory(stock__quantity=100)

    def reserve(i: int) -> str:
        lines = {first.pk: 1, second.pk: 1} if i % 2 else {second.pk: 1, first.pk: 1}
        with transaction.atomic():
            stock_reserve(lines)
            time.sleep(0.02)
        return "reserved"

    results = run_threads(20, reserve)
    assert Counter(kind for kind, _ in results) == {"ok": 20}, results
    assert Stock.objects.get(product=first).quantity == 80
    assert Stock.objects.get(product=second).quantity == 80
