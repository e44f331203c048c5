"""Checkout in three steps (reserve, charge outside any transaction, confirm or release): a slow
provider holds no stock rows, a retry never charges twice, and the sweep settles what a dead
process left reserved."""

import statistics
import threading
import time
from collections import Counter

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection
from django.utils import timezone

from catalog.tests.factories import ProductFactory
from inventory.models import Stock
from orders import services, tasks
from orders.models import Order, Payment
from orders.payments import PaymentUnavailable, TestCardProvider
from orders.tests.factories import APPROVED_CARD, cart_with, order_for
from orders.tests.threads import run_threads

pytestmark = pytest.mark.django_db(transaction=True)

SHOPPERS = 100
STOCK = 10
# The shared PostgreSQL allows 100 connections for every test run on the machine: at most this
# many checkouts hold one at a time (all 100 threads start together and queue for a slot).
CONNECTIONS = 40


class SlowProvider(TestCardProvider):
    """Test cards, with a network round trip of 300 ms and a count of real charges per key."""

    __test__ = False
    DELAY = 0.3
    charged: Counter = Counter()
    in_transaction: list[bool] = []
    fail_next = 0  # charge, then lose the answer (PaymentUnavailable)
    die_before = False  # the process dies before the charge reaches the provider
    die_after = False  # the process dies after the charge, before it can confirm
    meanwhile = None  # run while the charge is in flight
    refunds: Counter = Counter()  # real refunds per key
    refund_fail_next = 0  # the refund cannot reach the provider (PaymentUnavailable)
    find_fails = False  # charge_find cannot reach the provider

    def charge(self, amount, reference, details, *, idempotency_key):
        SlowProvider.in_transaction.append(connection.in_atomic_block)
        if self.die_before:
            raise ProcessKilled
        time.sleep(self.DELAY)
        if SlowProvider.meanwhile is not None:
            SlowProvider.meanwhile()  # from the class: a plain function, not a method
        with self._lock:
            if idempotency_key not in self._results:
                SlowProvider.charged[idempotency_key] += 1
        result = super().charge(amount, reference, details, idempotency_key=idempotency_key)
        if self.die_after:
            raise ProcessKilled
        with self._lock:
            if SlowProvider.fail_next:
                SlowProvider.fail_next -= 1
                raise PaymentUnavailable("read timed out")
        return result


    def charge_find(self, idempotency_key):
        if SlowProvider.find_fails:
            raise PaymentUnavailable("connection refused")
        return super().charge_find(idempotency_key)

    def refund(self, charge_reference, amount, *, idempotency_key):
        with self._lock:
            if SlowProvider.refund_fail_next:
                SlowProvider.refund_fail_next -= 1
                raise PaymentUnavailable("connection refused")
            if idempotency_key not in self._results:
                SlowProvider.refunds[idempotency_key] += 1
        return super().refund(charge_reference, amount, idempotency_key=idempotency_key)


class ProcessKilled(BaseException):
    """Stands for SIGKILL between two steps: nothing in order_place handles it."""


@pytest.fixture(autouse=True)
def slow_provider(settings):
    settings.PAYMENT_PROVIDER = f"{__name__}.SlowProvider"
    SlowProvider.charged = Counter()
    SlowProvider.in_transaction = []
    SlowProvider.fail_next = 0
    SlowProvider.die_before = SlowProvider.die_after = False
    SlowProvider.meanwhile = None
    SlowProvider.refunds = Counter()
    SlowProvider.refund_fail_next = 0
    SlowProvider.find_fails = False
    TestCardProvider._results.clear()
    return SlowProvider


@pytest.fixture
def lock_holds():
    """Per committed reservation, how long PostgreSQL held its stock row, in seconds, by the
    server's own clock (nothing of the test's Python threads in the measure): from a trigger
    after the UPDATE that took the row to a deferred one that runs at the COMMIT (the WAL
    flush that ends a commit comes on top, the same for any transaction)."""
    table = Stock._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(HOLD_LOG_SQL.format(table=table))

    def holds() -> list[float]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT extract(epoch FROM committed_at - locked_at) FROM test_lock_hold"
                " WHERE committed_at IS NOT NULL ORDER BY locked_at"
            )
            return [float(seconds) for (seconds,) in cursor.fetchall()]

    try:
        yield holds
    finally:
        with connection.cursor() as cursor:
            cursor.execute(HOLD_LOG_DROP_SQL.format(table=table))


HOLD_LOG_SQL = """
CREATE TABLE test_lock_hold (
    xid bigint, product_id bigint, locked_at timestamptz, committed_at timestamptz
);
CREATE FUNCTION test_lock_taken() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO test_lock_hold (xid, product_id, locked_at)
    VALUES (txid_current(), NEW.product_id, clock_timestamp());
    RETURN NULL;
END $$;
CREATE FUNCTION test_lock_committing() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE test_lock_hold SET committed_at = clock_timestamp()
    WHERE xid = txid_current() AND product_id = NEW.product_id;
    RETURN NULL;
END $$;
CREATE TRIGGER test_lock_taken AFTER UPDATE ON {table}
    FOR EACH ROW EXECUTE FUNCTION test_lock_taken();
CREATE CONSTRAINT TRIGGER test_lock_committing AFTER UPDATE ON {table}
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_lock_committing();
"""
HOLD_LOG_DROP_SQL = """
DROP TRIGGER IF EXISTS test_lock_taken ON {table};
DROP TRIGGER IF EXISTS test_lock_committing ON {table};
DROP FUNCTION IF EXISTS test_lock_taken(), test_lock_committing();
DROP TABLE IF EXISTS test_lock_hold;
"""


def deadlocks() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


@pytest.mark.slow
def test_a_hundred_checkouts_for_ten_units_with_a_slow_provider(lock_holds):
    product = ProductFactory(name="Last Lamp", stock__quantity=STOCK)
    owners = [f"s:slow{i}" for i in range(SHOPPERS)]
    for owner in owners:
        cart_with(owner, {product.pk: 1})
    deadlocks_before = deadlocks()
    slots = threading.BoundedSemaphore(CONNECTIONS)

    def checkout(i: int) -> str:
        with slots:
            return order_for(owners[i]).number

    started = time.monotonic()
    results = run_threads(SHOPPERS, checkout, timeout=120)
    elapsed = time.monotonic() - started

    kinds = Counter(kind for kind, _ in results)
    assert kinds == {"ok": STOCK, "refused": SHOPPERS - STOCK}, results
    assert all("Last Lamp is out of stock" in d for kind, d in results if kind == "refused")
    numbers = {detail for kind, detail in results if kind == "ok"}
    assert Order.objects.filter(number__in=numbers, status=Order.Status.PAID).count() == STOCK
    assert Order.objects.count() == STOCK, "a refused checkout left no order behind"
    assert Payment.objects.count() == STOCK
    assert sum(SlowProvider.charged.values()) == STOCK and set(SlowProvider.charged.values()) == {1}
    assert Stock.objects.get(product=product).quantity == 0
    assert deadlocks() == deadlocks_before
    # No charge runs inside a transaction, so none runs under a stock row lock.
    assert SlowProvider.in_transaction == [False] * STOCK
    holds = lock_holds()
    assert len(holds) == STOCK, "one measure per reservation"
    print_holds(
        f"{SHOPPERS} checkouts ({CONNECTIONS} connections) for {STOCK} units, provider"
        f" {SlowProvider.DELAY * 1000:.0f} ms: {elapsed:.2f} s;",
        holds,
    )


def print_holds(what: str, seconds: list[float]) -> None:
    """Print the holds: measured, not asserted (issue 16 asks for under 10 ms each; on two
    shared cores a holding thread may wait for the GIL between its UPDATE and its COMMIT)."""
    holds = sorted(hold * 1000 for hold in seconds)
    under = sum(hold < 10 for hold in holds)
    print(
        f"\n{what} stock row held (PostgreSQL's clock, UPDATE to COMMIT): p50"
        f" {statistics.median(holds):.2f} ms, max {holds[-1]:.2f} ms, {under} of {len(holds)}"
        f" under 10 ms: {[round(h, 2) for h in holds]}"
    )


def test_one_checkout_at_a_time_holds_its_stock_row_for_milliseconds(lock_holds):
    """The hold without 100 threads competing for the GIL: what the row lock itself costs."""
    product = ProductFactory(stock__quantity=STOCK)
    for i in range(STOCK):
        cart_with(f"s:one{i}", {product.pk: 1})
        order_for(f"s:one{i}")
    assert Stock.objects.get(product=product).quantity == 0
    assert SlowProvider.in_transaction == [False] * STOCK
    holds = lock_holds()
    print_holds(f"{STOCK} checkouts one at a time:", holds)
    assert len(holds) == STOCK
    # Generous: far above the few milliseconds measured, below the charge it must not contain.
    assert max(holds) < SlowProvider.DELAY


def test_a_retry_after_the_charge_resumes_the_order_without_a_second_charge():
    product = ProductFactory(stock__quantity=5)
    cart_with("s:retry", {product.pk: 2})
    token = services.checkout_token_new()
    SlowProvider.fail_next = 1  # charged, but the answer is lost on the way back
    with pytest.raises(services.CheckoutError, match="payment service"):
        order_for("s:retry", token=token)
    reserved = Order.objects.get()
    assert reserved.status == Order.Status.PENDING and reserved.total == product.price * 2 + (
        settings.ORDER_SHIPPING_FEE
    )
    assert Stock.objects.get(product=product).quantity == 3, "the reservation holds"
    order = order_for("s:retry", token=token)  # the shopper presses "Place order" again
    assert order.pk == reserved.pk and order.status == Order.Status.PAID
    assert order_for("s:retry", token=token).pk == order.pk
    assert Payment.objects.filter(order=order).count() == 1
    assert SlowProvider.charged == {token: 1}
    assert SlowProvider.in_transaction == [False, False]
    assert Stock.objects.get(product=product).quantity == 3


def test_a_declined_checkout_is_closed_and_its_token_cannot_charge_again():
    product = ProductFactory(stock__quantity=5)
    cart_with("s:declined", {product.pk: 1})
    token = services.checkout_token_new()
    with pytest.raises(services.PaymentDeclined):
        order_for("s:declined", token=token, card_number="4000 0000 0000 0002")
    with pytest.raises(services.CheckoutClosed):
        order_for("s:declined", token=token, card_number=APPROVED_CARD)
    assert Order.objects.get().status == Order.Status.FAILED
    assert Stock.objects.get(product=product).quantity == 5 and not Payment.objects.exists()


def left_by_a_dead_process(owner: str, product, charged: bool) -> Order:
    """An order its process reserved (and charged, if `charged`) before it was killed, a
    reservation timeout ago."""
    cart_with(owner, {product.pk: 1})
    SlowProvider.die_before, SlowProvider.die_after = not charged, charged
    with pytest.raises(ProcessKilled):
        order_for(owner)
    SlowProvider.die_before = SlowProvider.die_after = False
    order = Order.objects.filter(status=Order.Status.PENDING).latest("pk")
    old = timezone.now() - timezone.timedelta(seconds=settings.ORDER_RESERVATION_TIMEOUT + 1)
    Order.objects.filter(pk=order.pk).update(created_at=old)
    return order


def test_the_sweep_releases_unpaid_reservations_and_confirms_charged_ones():
    product = ProductFactory(stock__quantity=10)
    unpaid = left_by_a_dead_process("s:dead1", product, charged=False)
    paid = left_by_a_dead_process("s:dead2", product, charged=True)
    cart_with("s:live", {product.pk: 1})
    SlowProvider.die_before = True
    with pytest.raises(ProcessKilled):
        order_for("s:live")  # just reserved: for all the sweep knows, still charging
    live = Order.objects.latest("pk")
    assert Stock.objects.get(product=product).quantity == 7
    assert tasks.order_reservations_sweep.delay().result == {
        "confirmed": 1, "released": 1, "refunded": 0,
    }  # fmt: skip
    statuses = dict(Order.objects.values_list("pk", "status"))
    assert statuses == {
        unpaid.pk: Order.Status.FAILED,
        paid.pk: Order.Status.PAID,
        live.pk: Order.Status.PENDING,  # younger than ORDER_RESERVATION_TIMEOUT
    }
    assert Stock.objects.get(product=product).quantity == 8, "only the unpaid unit went back"
    payment = Payment.objects.get()
    assert payment.order_id == paid.pk
    assert payment.card == "Visa ending 4242", "the provider's first answer, card included"
    assert [m.to for m in mail.outbox] == [[paid.email]], "confirmed, so its email is sent"
    assert services.order_confirmations_send_due(older_than=0) == 0
    # Running it again changes nothing.
    assert services.order_reservations_settle() == {"confirmed": 0, "released": 0, "refunded": 0}
    assert Stock.objects.get(product=product).quantity == 8
    schedule = settings.CELERY_BEAT_SCHEDULE["order-reservations-sweep"]
    assert schedule["task"] == tasks.order_reservations_sweep.name


def test_a_charge_that_lands_after_the_sweep_released_it_is_recorded_and_refunded():
    product = ProductFactory(stock__quantity=3)
    cart_with("s:late", {product.pk: 1})
    # The charge outlasts ORDER_RESERVATION_TIMEOUT: the sweep runs while it is in flight.
    SlowProvider.meanwhile = lambda: services.order_reservations_settle(older_than=0)
    with pytest.raises(services.CheckoutError, match="took too long"):
        order_for("s:late")
    order = Order.objects.get()
    assert order.status == Order.Status.FAILED
    assert_charged_and_refunded_once(order)
    assert Stock.objects.get(product=product).quantity == 3
    assert services.order_reservations_settle()["refunded"] == 0, "refunded once"
    assert sum(SlowProvider.refunds.values()) == 1 and not mail.outbox


def assert_charged_and_refunded_once(order: Order) -> None:
    payments = {p.status: p for p in Payment.objects.filter(order=order)}
    assert set(payments) == {Payment.Status.APPROVED, Payment.Status.REFUNDED}
    charge, refund = payments[Payment.Status.APPROVED], payments[Payment.Status.REFUNDED]
    assert charge.amount == refund.amount == order.total
    assert refund.reference.startswith("test_re_") and refund.reference != charge.reference
    assert SlowProvider.charged == {order.checkout_token: 1}
    assert SlowProvider.refunds == {f"refund:{order.checkout_token}": 1}


def test_a_refund_the_provider_could_not_take_is_made_by_the_next_sweep():
    product = ProductFactory(stock__quantity=3)
    cart_with("s:late2", {product.pk: 1})
    SlowProvider.meanwhile = lambda: services.order_reservations_settle(older_than=0)
    SlowProvider.refund_fail_next = 1
    with pytest.raises(services.CheckoutError, match="took too long"):
        order_for("s:late2")
    order = Order.objects.get()
    assert list(order.payments.values_list("status", flat=True)) == [Payment.Status.APPROVED]
    assert services.order_reservations_settle() == {"confirmed": 0, "released": 0, "refunded": 1}
    assert_charged_and_refunded_once(order)
    assert services.order_reservations_settle() == {"confirmed": 0, "released": 0, "refunded": 0}


def test_a_process_that_died_after_a_charge_landing_past_the_release_loses_nothing():
    """The charge lands after the sweep released the stock, and its process dies before it can
    record it: the next sweep finds the charge at the provider and refunds it."""
    product = ProductFactory(stock__quantity=3)
    cart_with("s:late3", {product.pk: 1})
    SlowProvider.meanwhile = lambda: services.order_reservations_settle(older_than=0)
    SlowProvider.die_after = True
    with pytest.raises(ProcessKilled):
        order_for("s:late3")
    SlowProvider.die_after = False
    order = Order.objects.get()
    assert order.status == Order.Status.FAILED and not order.payments.exists()
    assert services.order_reservations_settle() == {"confirmed": 0, "released": 0, "refunded": 1}
    assert_charged_and_refunded_once(order)
    order.refresh_from_db()
    assert order.status == Order.Status.FAILED and not mail.outbox
    assert Stock.objects.get(product=product).quantity == 3
    assert services.order_reservations_settle() == {"confirmed": 0, "released": 0, "refunded": 0}
    assert sum(SlowProvider.refunds.values()) == 1


def test_a_reservation_the_provider_cannot_answer_for_stays_reserved():
    """Released while the outcome is unknown, a charge found later would have no stock left."""
    product = ProductFactory(stock__quantity=3)
    order = left_by_a_dead_process("s:unknown", product, charged=True)
    SlowProvider.find_fails = True
    assert services.order_reservations_settle() == {"confirmed": 0, "released": 0, "refunded": 0}
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING
    assert Stock.objects.get(product=product).quantity == 2
    SlowProvider.find_fails = False  # the provider answers again: the charge is confirmed
    assert services.order_reservations_settle()["confirmed"] == 1
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and not SlowProvider.refunds


def test_a_short_last_line_commits_nothing_and_takes_nothing():
    """The last line's UPDATE goes with the COMMIT (inventory.services._last_sql): when it is
    short, the CHECK refuses it and nothing is committed, the earlier line's units included."""
    first, last = ProductFactory(stock__quantity=5), ProductFactory(stock__quantity=1)
    assert first.pk < last.pk  # rows are taken in id order: `last` is the last line
    cart_with("s:short-last", {first.pk: 2, last.pk: 3})
    with pytest.raises(services.ItemsUnavailable) as refused:
        order_for("s:short-last")
    assert last.name in str(refused.value) and first.name not in str(refused.value)
    assert dict(Stock.objects.values_list("product_id", "quantity")) == {first.pk: 5, last.pk: 1}
    assert not Order.objects.exists()


def test_a_last_line_without_a_stock_row_commits_nothing():
    first, gone = ProductFactory(stock__quantity=5), ProductFactory(stock__quantity=5)
    cart_with("s:no-row", {first.pk: 1, gone.pk: 1})
    Stock.objects.filter(product=gone).delete()
    with pytest.raises(services.ItemsUnavailable) as refused:
        order_for("s:no-row")
    assert gone.name in str(refused.value)
    assert dict(Stock.objects.values_list("product_id", "quantity")) == {first.pk: 5}
    assert not Order.objects.exists()
