"""Sessions and carts with the state role behind Redis Sentinel, and the master failing over.

The state alias is configured exactly as REDIS_STATE_SENTINELS configures it (the settings'
redis_sentinel_options); cart/store.py's Lua scripts and pipelines go to the master the
Sentinel names. The cart tests below are the single-server ones, run again here.
"""

import time

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django_redis import get_redis_connection
from redis.sentinel import SentinelConnectionPool

from cart.tests import test_cart as cart_tests
from config.settings.base import redis_sentinel_options
from shelf.tests.servers import redis_sentinel_set

pytestmark = pytest.mark.slow
FAILOVER_BUDGET = 15.0


def sentinel_caches(servers) -> dict:
    caches = {alias: dict(conf) for alias, conf in settings.CACHES.items()}
    state = caches["state"]
    caches["state"] = {
        **state,
        "LOCATION": [servers.url],
        "OPTIONS": {**state["OPTIONS"], **redis_sentinel_options(servers.sentinels, 1.0)},
    }
    return caches


@pytest.fixture(scope="module")
def sentinel_servers():
    with redis_sentinel_set() as servers:
        yield servers


@pytest.fixture(autouse=True)
def on_sentinel(sentinel_servers):
    with override_settings(CACHES=sentinel_caches(sentinel_servers)):
        client = get_redis_connection("state")
        assert isinstance(client.connection_pool, SentinelConnectionPool)
        client.flushdb()
        yield sentinel_servers


products = cart_tests.products
shopper = cart_tests.shopper
_transactional_db = pytest.mark.django_db(transaction=True)
test_add_update_remove_and_the_cart_page = _transactional_db(
    cart_tests.test_add_update_remove_and_the_cart_page
)
test_concurrent_adds_of_the_same_line_both_count = _transactional_db(
    cart_tests.test_concurrent_adds_of_the_same_line_both_count
)
test_anonymous_cart_merges_into_the_users_at_login_keeping_the_larger_quantity = _transactional_db(
    cart_tests.test_anonymous_cart_merges_into_the_users_at_login_keeping_the_larger_quantity
)
test_sync_writes_the_cart_and_never_lets_an_older_version_win = _transactional_db(
    cart_tests.test_sync_writes_the_cart_and_never_lets_an_older_version_win
)
test_flushed_state_redis_brings_every_cart_back_as_of_its_last_sync = _transactional_db(
    cart_tests.test_flushed_state_redis_brings_every_cart_back_as_of_its_last_sync
)


@pytest.mark.django_db(transaction=True)
def test_sessions_and_carts_survive_a_sentinel_failover(products, on_sentinel, capsys):
    """Kill the master: the Sentinel promotes the replica; the shopper stays logged in, the
    cart keeps its lines (replicated before the kill) and takes new ones.

    Last in the module: it leaves the module's servers without a replica.
    """
    servers = on_sentinel
    user = get_user_model().objects.create_user("carol", "carol@example.com", "pw-carol-1")
    browser = Client()
    browser.force_login(user)
    cart_tests.add(browser, products[0], 2)
    get_redis_connection("state").wait(1, 1000)  # the replica has the cart and the session
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
    assert cart_tests.add(browser, products[1], 1).status_code == 302
    page = browser.get("/cart/")
    assert page.status_code == 200 and "carol" in page.content.decode()
    assert cart_tests.lines(user) == {products[0].pk: 2, products[1].pk: 1}
    with capsys.disabled():
        print(
            f"\nsentinel failover: master :{old_master} killed; replica :{servers.replica_port} "
            f"promoted after {promoted_after:.1f} s; {sent} cart page requests meanwhile, "
            f"statuses {statuses}; after it: logged in, cart intact, add works"
        )
