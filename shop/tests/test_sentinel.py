"""Sessions and carts with the state role behind Redis Sentinel while the master fails over.

The cart's own tests run on a Sentinel set too (`also_on("sentinel")`, shop/tests/sentinels.py).
"""

import time

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django_redis import get_redis_connection

from cart.tests.test_cart import add, lines
from catalog.tests.factories import ProductFactory
from shelf.tests.servers import redis_sentinel_set
from shop.state import StateUnavailable

from .sentinels import sentinel_caches

pytestmark = pytest.mark.slow
FAILOVER_BUDGET = 15.0
BREAKER = 0.5  # seconds the state breaker refuses after the failover's last error


@pytest.mark.django_db(transaction=True)
def test_sessions_and_carts_survive_a_sentinel_failover(capsys):
    """Kill the master: the Sentinel promotes the replica; the shopper stays logged in, the
    cart keeps its lines (replicated before the kill) and takes new ones.

    On a Sentinel set of its own: the shared one stays whole for the other tests.
    """
    with (
        redis_sentinel_set() as servers,
        override_settings(CACHES=sentinel_caches(servers), REDIS_STATE_BREAKER_RESET=BREAKER),
    ):
        _fail_over(servers, capsys)


def _fail_over(servers, capsys) -> None:
    products = [ProductFactory(stock__quantity=50) for _ in range(2)]
    user = get_user_model().objects.create_user("carol", "carol@example.com", "pw-carol-1")
    browser = Client()
    browser.force_login(user)
    add(browser, products[0], 2)
    # The replica has the cart and the session: WAIT in steps shorter than the state client's
    # socket timeout (0.5 s), which a busy machine's replica may take longer than to answer.
    replicated = time.monotonic() + FAILOVER_BUDGET
    while get_redis_connection("state").wait(1, 200) < 1:
        assert time.monotonic() < replicated, "the replica never caught up before the kill"
    old_master = servers.master_port_now()
    servers.kill_master()
    killed = time.monotonic()
    sent, statuses, promoted_after = 0, {}, None
    while time.monotonic() - killed < FAILOVER_BUDGET:
        response = browser.get("/cart/")
        sent += 1
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        if servers.master_port_now() not in (None, old_master):
            promoted_after = time.monotonic() - killed
            break
        time.sleep(0.1)
    assert promoted_after is not None, "the Sentinel did not promote the replica in time"
    # Every page during the failover: sessions from PostgreSQL, the cart as last synced.
    assert statuses == {200: sent}, statuses
    # A pooled connection still open to the killed master fails once at its next use, which
    # opens the breaker for BREAKER seconds: a cart change meanwhile gets "try again". Wait
    # until a read has gone through to the new master, as a shopper's next click would.
    settled = time.monotonic() + FAILOVER_BUDGET
    while True:
        time.sleep(BREAKER)
        try:
            assert lines(user) == {products[0].pk: 2}  # the cart as it was before the kill
            break
        except StateUnavailable:
            assert time.monotonic() < settled, "the state role never answered after the failover"
    assert add(browser, products[1], 1).status_code == 302
    page = browser.get("/cart/")
    assert page.status_code == 200 and "carol" in page.content.decode()
    assert lines(user) == {products[0].pk: 2, products[1].pk: 1}
    with capsys.disabled():
        print(
            f"\nsentinel failover: master :{old_master} killed; replica :{servers.replica_port} "
            f"promoted after {promoted_after:.1f} s; {sent} cart page requests meanwhile, "
            f"statuses {statuses}; after it: logged in, cart intact, add works"
        )
