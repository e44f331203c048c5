"""Fixtures that point the cache alias at a real 6-node Redis Cluster (see servers.py).

Loaded for every test by the root conftest.py. A test marked `@pytest.mark.also_on("cluster")`
runs twice: on the single test server and with REDIS_CACHE_URL=redis-cluster://... (the
ShelfClient's RedisCluster) on an emptied cluster; a test that asks for `on_cluster` runs on
the cluster only. The cluster is started once per session, at its first use.
"""

from collections.abc import Iterator

import pytest
from django.conf import settings
from django.test import override_settings
from django_redis import get_redis_connection

from shelf import backend

from .servers import RedisClusterNodes, redis_cluster


def cluster_caches(url: str) -> dict:
    """The test CACHES with the cache alias on `url` (short timeouts, as in production)."""
    caches = {alias: dict(conf) for alias, conf in settings.CACHES.items()}
    caches["default"] = {**caches["default"], "LOCATION": url}
    return caches


@pytest.fixture(scope="session")
def redis_cluster_nodes() -> Iterator[RedisClusterNodes]:
    with redis_cluster() as nodes:
        yield nodes


@pytest.fixture
def on_cluster(redis_cluster_nodes) -> Iterator[RedisClusterNodes]:
    with override_settings(CACHES=cluster_caches(redis_cluster_nodes.url)):
        client = get_redis_connection("default")
        assert client.__class__.__name__ == "RedisCluster"
        client.flushdb()  # every master
        backend.reset()
        yield redis_cluster_nodes
