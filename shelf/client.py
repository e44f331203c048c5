"""The django-redis client of the cache alias: one Redis server, or a Redis Cluster.

`REDIS_CACHE_URL` chooses:

    redis://127.0.0.1:6379/0                                  one server (the default)
    redis-cluster://10.0.0.1:7000,10.0.0.2:7000,10.0.0.3:7000  a Redis Cluster (database 0 only)

With a `redis://` URL this is django-redis's DefaultClient, unchanged: the same connection pool,
the same commands, no extra round trip. With `redis-cluster://` the raw client is redis-py's
`RedisCluster`, built from the listed startup nodes (any few of the cluster's nodes; the client
discovers the rest and follows failovers). django-redis has no cluster client of its own (its
maintainers declined one: jazzband/django-redis#208, #606); django-valkey has one, but it would
bring a second client library (valkey-py, a fork of redis-py with its own exception classes)
for the one alias, while the toolkit, its breaker and the tests all speak redis-py. A subclass
of about a hundred lines that hands redis-py's own cluster client to django-redis is smaller
than that dependency.

What changes under a cluster
- Multi-key commands must stay within one hash slot. MGET across slots becomes
  `mget_nonatomic` (one MGET per slot, pipelined per node): `get_many` here, and
  `backend.mget()` for the toolkit. The toolkit never needs the keys of one read to be atomic:
  an entry and its tag versions read at slightly different moments can only look invalid (a
  spurious miss), never valid when stale (see shelf/core.py).
- Non-transactional pipelines work as they are (redis-py splits them per node).
- Keys that one command or one MULTI must touch together share a hash tag, e.g.
  `{catalog:popular}:views:<hour>` and `{catalog:popular}` for ZUNIONSTORE in catalog/cache.py.
- A lock and the entry it protects need not share a slot: the lock's release is a one-key EVAL.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured
from django_redis.client import DefaultClient
from django_redis.exceptions import ConnectionInterrupted
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import RedisClusterException, RedisError
from redis.retry import Retry

CLUSTER_SCHEMES = ("redis-cluster",)
# Commands redis-py retries on another node after refreshing the cluster's map: once is enough
# to follow a MOVED slot or a promoted replica; more only lengthens a request during a failover.
CLUSTER_RETRIES = 1

# One RedisCluster per location and process, shared by every thread: it is thread-safe, and
# building one costs several round trips (CLUSTER SLOTS, COMMAND), which Django's per-thread
# cache objects would otherwise pay once per thread, all at once after a deploy.
_clusters: dict[tuple, RedisCluster] = {}
_clusters_lock = threading.Lock()


def is_cluster_url(url: str) -> bool:
    return url.split("://", 1)[0].lower() in CLUSTER_SCHEMES


def parse_cluster_url(url: str) -> dict[str, Any]:
    """Split `redis-cluster://[user:password@]host:port,host:port[/0]` into RedisCluster kwargs."""
    parts = urlsplit(url)
    credentials, _, hosts = parts.netloc.rpartition("@")
    username, _, password = credentials.partition(":")
    nodes = []
    for address in filter(None, hosts.split(",")):
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise ImproperlyConfigured(f"{url!r}: each cluster node must be host:port")
        nodes.append(ClusterNode(host.strip("[]"), int(port)))
    if not nodes:
        raise ImproperlyConfigured(f"{url!r} names no cluster node")
    database = parts.path.strip("/") or "0"
    if database != "0":
        raise ImproperlyConfigured(f"{url!r}: Redis Cluster has only database 0")
    return {
        "startup_nodes": nodes,
        "username": unquote(username) or None,
        "password": unquote(password) or None,
    }


class ShelfClient(DefaultClient):
    """django-redis's DefaultClient, or the same over redis-py's RedisCluster for a cluster URL."""

    def __init__(self, server, params: dict[str, Any], backend) -> None:
        self.cluster = isinstance(server, str) and is_cluster_url(server)
        # DefaultClient splits LOCATION at commas (replicas); a cluster URL is one location.
        super().__init__([server] if self.cluster else server, params, backend)

    def connect(self, index: int = 0):
        if not self.cluster:
            return super().connect(index)
        options = self._options
        extra = options.get("CLUSTER_KWARGS", {})
        key = (
            self._server[index],
            options.get("SOCKET_TIMEOUT"),
            options.get("SOCKET_CONNECT_TIMEOUT"),
            tuple(sorted(extra.items())),
        )
        with _clusters_lock:
            if key not in _clusters:
                _clusters[key] = RedisCluster(
                    **parse_cluster_url(self._server[index]),
                    socket_timeout=options.get("SOCKET_TIMEOUT"),
                    socket_connect_timeout=options.get("SOCKET_CONNECT_TIMEOUT"),
                    retry=Retry(NoBackoff(), CLUSTER_RETRIES),
                    # Every slot must have a master: a hole means a failover is under way.
                    require_full_coverage=True,
                    **extra,
                )
            return _clusters[key]

    def disconnect(self, index: int = 0, client=None) -> None:
        if not self.cluster:
            return super().disconnect(index, client)
        # Shared with the other threads' cache objects: Django calls this at the end of every
        # request (close_caches), so keep it open; it reconnects by itself after an error.

    def get_many(self, keys, version=None, client=None) -> dict:
        if not self.cluster:
            return super().get_many(keys, version=version, client=client)
        if client is None:
            client = self.get_client(write=False)
        if not keys:
            return {}
        map_keys = {self.make_key(k, version=version): k for k in keys}
        try:
            values = client.mget_nonatomic(list(map_keys))
        except (RedisError, RedisClusterException) as e:
            raise ConnectionInterrupted(connection=client) from e
        return {
            map_keys[key]: self.decode(value)
            for key, value in zip(map_keys, values, strict=True)
            if value is not None
        }
