"""Fixtures that put the state alias behind a real Redis Sentinel set (see shelf/tests/servers.py).

Loaded for every test by the root conftest.py. A test marked `@pytest.mark.also_on("sentinel")`
runs twice: on the single test server and with the state alias configured exactly as
REDIS_STATE_SENTINELS configures it (the settings' redis_sentinel_options); cart/store.py's Lua
scripts and pipelines then go to the master the Sentinel names. The set is started once per
session, at its first use.
"""

import pytest
from django.conf import settings
from django.test import override_settings
from django_redis import get_redis_connection
from redis.sentinel import SentinelConnectionPool

from config.settings.base import redis_sentinel_options
from shelf.tests.servers import redis_sentinel_set


def sentinel_caches(servers) -> dict:
    caches = {alias: dict(conf) for alias, conf in settings.CACHES.items()}
    state = caches["state"]
    caches["state"] = {
        **state,
        "LOCATION": [servers.url],
        "OPTIONS": {**state["OPTIONS"], **redis_sentinel_options(servers.sentinels, 1.0)},
    }
    return caches


@pytest.fixture(scope="session")
def sentinel_servers():
    with redis_sentinel_set() as servers:
        yield servers


@pytest.fixture
def on_sentinel(sentinel_servers):
    with override_settings(CACHES=sentinel_caches(sentinel_servers)):
        client = get_redis_connection("state")
        assert isinstance(client.connection_pool, SentinelConnectionPool)
        client.flushdb()
        yield sentinel_servers
