"""Write-behind with a real Celery worker on the real broker."""

import signal
import time

import pytest
from celery import current_app as app
from django.db import connection

from cart import services, store
from cart.models import Cart
from catalog.tests.factories import ProductFactory
from shelf.tests.servers import celery_worker, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _synced_lines(owner: str) -> dict[int, int]:
    cart = Cart.objects.filter(owner=owner).first()
    return dict(cart.lines.values_list("product_id", "quantity")) if cart else {}


def test_changes_wait_while_no_worker_runs_and_arrive_when_one_starts():
    product = ProductFactory(stock__quantity=50)
    owner = "s:waiting"
    services.cart_item_add(owner, product.pk, 3)
    app.send_task("cart.tasks.carts_sync")  # queued on the real broker; nobody consumes it
    time.sleep(1.0)
    assert _synced_lines(owner) == {}
    assert store.dirty_count() == 1
    with celery_worker(connection.settings_dict["NAME"]):
        assert wait_until(lambda: _synced_lines(owner) == {product.pk: 3}, timeout=30)
    assert store.dirty_count() == 0


def test_worker_killed_mid_sync_loses_and_regresses_nothing():
    products = [ProductFactory(stock__quantity=99) for _ in range(3)]
    owners = [f"s:kill{i}" for i in range(1000)]
    for i, owner in enumerate(owners):
        services.cart_load(owner)
        store.add(owner, products[i % 3].pk, 1 + i % 5, 99)
    expected = {o: store.lines_of(store.read(o)) for o in owners}
    with celery_worker(connection.settings_dict["NAME"]) as worker:
        app.send_task("cart.tasks.carts_sync")
        assert wait_until(lambda: Cart.objects.count() > 0, timeout=30)
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    synced_before = Cart.objects.count()
    assert 0 < synced_before < len(owners), "the kill should land mid-batch"
    # Every cart PostgreSQL holds is exactly its Redis state: nothing half-written.
    for cart in Cart.objects.prefetch_related("lines"):
        assert {ln.product_id: ln.quantity for ln in cart.lines.all()} == expected[cart.owner]
    # What was not synced is still marked dirty, so the next run finishes the job...
    while services.carts_sync_dirty():
        pass
    assert {o: _synced_lines(o) for o in owners} == expected
    versions = dict(Cart.objects.values_list("owner", "version"))
    # ...and running it again changes nothing more.
    assert services.carts_sync_dirty() == 0
    for owner in owners[:20]:
        services.cart_sync(owner)
    assert dict(Cart.objects.values_list("owner", "version")) == versions


def test_carts_sync_is_retried_when_the_state_redis_refuses(settings):
    """redis-py's errors are not the builtin ConnectionError: the task must retry on them."""
    from celery.exceptions import Retry

    from scripts.services import spare_port

    state = settings.CACHES["state"]
    settings.CACHES = {
        **settings.CACHES,
        "state": {**state, "LOCATION": f"redis://127.0.0.1:{spare_port()}/0"},
    }
    from cart.tasks import carts_sync

    with pytest.raises(Retry):
        carts_sync.apply(throw=True)
