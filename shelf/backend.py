"""The cache Redis connection, guarded so that Redis trouble never breaks a page.

Every command the toolkit sends goes through `call()`. A failure (refused, reset, timed out) is
counted by a circuit breaker (a timeout opens it at once: Redis hangs, and every other waiter
would time out too); once it opens, calls fail at once without touching the network,
so a hung Redis costs each request at most one short timeout (SHELF_REDIS_TIMEOUT) and the
shop serves from PostgreSQL. The breaker counts per process, but its opening is shared with
every process of the host (shelf/hostflag.py): they skip Redis too, without paying timeouts of
their own, until a call of any of them succeeds; one that fails while the host's breaker was
open opens its own at once. A failure also marks the current request, so the rest of that
request skips Redis instead of paying the timeout again.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import TypeVar

import pybreaker
from django.conf import settings
from django_redis import get_redis_connection
from redis import Redis
from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from . import hostflag, metrics

logger = logging.getLogger("shelf")
T = TypeVar("T")


class ShelfUnavailable(Exception):
    """The cache Redis cannot be used right now; the caller should go to PostgreSQL."""


class _BreakerLog(pybreaker.CircuitBreakerListener):
    def state_change(self, cb: pybreaker.CircuitBreaker, old_state, new_state) -> None:
        old, new = getattr(old_state, "name", None), getattr(new_state, "name", None)
        metrics.BREAKER_OPEN.set(1 if new == pybreaker.STATE_OPEN else 0)
        if old != new:
            logger.warning(
                "shelf circuit breaker %s", new, extra={"breaker": cb.name, "from": old, "to": new}
            )


breaker = pybreaker.CircuitBreaker(
    fail_max=settings.SHELF_BREAKER_FAILURES,
    reset_timeout=settings.SHELF_BREAKER_RESET,
    listeners=[_BreakerLog()],
    name="cache-redis",
)


class _OpenedAt(pybreaker.CircuitBreakerListener):
    """Remember when the breaker last opened.

    pybreaker moves an open breaker to half-open only inside a call, and `available()` keeps
    calls away from an open breaker, so without this an opened breaker would never close again.
    An opened breaker also means bumps may have gone to the outbox: drain it before reuse.
    """

    at = 0.0

    def state_change(self, cb: pybreaker.CircuitBreaker, old_state, new_state) -> None:
        if getattr(new_state, "name", None) == pybreaker.STATE_OPEN:
            self.at = time.monotonic()
            _host.open(self.at)
            recovery_needed()


_opened = _OpenedAt()
breaker.add_listener(_opened)
# When this host's cache-Redis breaker last opened, in whichever process (0.0: closed).
_host = hostflag.HostFlag("cache-redis", lambda: str(settings.CACHES["default"]["LOCATION"]))

# True once a Redis call failed during the current request (reset by ShelfMiddleware).
_failed_in_request: ContextVar[bool] = ContextVar("shelf_failed_in_request", default=False)
# Calls to the cache Redis during the current request (each one round trip; the benchmark
# reports them per page view).
_calls_in_request: ContextVar[int] = ContextVar("shelf_calls_in_request", default=0)

# Set when this process may owe the shelf bumps (its breaker opened, or it wrote to the outbox):
# the next call drains the outbox first (shelf/outbox.py). Process-wide, like the breaker.
_recovery_due = False


def recovery_needed() -> None:
    """Make the next call drain the outbox before it uses Redis."""
    global _recovery_due
    _recovery_due = True


def _recover_then(fn: Callable[[Redis], T], r: Redis) -> T:
    """Drain the outbox, then run `fn`: one breaker call, so the breaker closes only if `fn`
    (which does touch Redis, unlike an empty drain) succeeds too."""
    global _recovery_due
    from .core import write_bumps
    from .outbox import drain

    drain(r, write_bumps)
    _recovery_due = False
    return fn(r)


def client() -> Redis:
    """Return the raw redis-py client of the cache alias (shared pool, short timeouts).

    A `Redis` for one server, a `RedisCluster` for a cluster (see shelf/client.py).
    """
    return get_redis_connection("default")


# Client class -> whether it is a RedisCluster. isinstance() against RedisCluster (a typing
# Protocol subclass) costs about 0.5 us; a dict lookup costs 0.05 us on the page's hot path.
_is_cluster: dict[type, bool] = {}


def is_cluster(r: Redis) -> bool:
    """Whether `r` is a RedisCluster client."""
    cluster = _is_cluster.get(type(r))
    if cluster is None:
        cluster = _is_cluster[type(r)] = issubclass(type(r), RedisCluster)
    return cluster


def mget(r: Redis, keys: list[str]) -> list:
    """MGET `keys`; on a cluster, one MGET per hash slot (not atomic across slots)."""
    if is_cluster(r):
        return r.mget_nonatomic(keys)
    return r.mget(keys)


def available() -> bool:
    """Tell whether Redis may be tried now: shelf enabled, no failure yet in this request, and
    the breaker closed, in this process and in the host's other processes."""
    if not settings.SHELF_ENABLED or _failed_in_request.get():
        return False
    reset = breaker.reset_timeout
    if breaker.current_state == pybreaker.STATE_OPEN and time.monotonic() - _opened.at < reset:
        return False
    host = _host.opened_at()
    if host and time.monotonic() - host < reset:
        # Another process lost Redis: bumps may be waiting in the outbox; drain them first.
        recovery_needed()
        return False
    return True


# A read or connect that waited out SHELF_REDIS_TIMEOUT: redis-py's, or the socket's own.
_TIMEOUTS = (RedisTimeoutError, TimeoutError)


def _raise(exc: BaseException) -> None:
    raise exc


def _guarded(fn: Callable[[Redis], T], r: Redis) -> T:
    """Run `fn(r)`, then tell the breaker how it went.

    Not `breaker.call(fn, r)`: pybreaker holds its lock while the call runs, so the threads of
    a gthread worker would take turns at Redis, and all of them would queue behind one that
    waits out a hung server's timeout. Only the bookkeeping goes through the breaker here.
    """
    try:
        result = fn(r)
    except (RedisError, RedisClusterException, OSError) as exc:
        if _host.opened_at() or isinstance(exc, _TIMEOUTS):
            # The host's breaker was open: the same outage, not a first failure. Or a
            # timeout: Redis hangs, and every other thread and process of the host waiting on
            # it would time out too; open for all of them now rather than after
            # SHELF_BREAKER_FAILURES waits (issue 16: 8 clients per worker).
            breaker.open()
            raise
        breaker.call(_raise, exc)  # counts the failure (and may open), then re-raises it
        raise
    breaker.call(bool)  # counts the success (closes a half-open breaker)
    _host.close()  # and the host's, for every process
    return result


def call(fn: Callable[[Redis], T]) -> T:
    """Run `fn(client)` through the breaker; raise ShelfUnavailable on any Redis trouble."""
    if not available():
        raise ShelfUnavailable
    _calls_in_request.set(_calls_in_request.get() + 1)
    try:
        if _recovery_due:
            # Before anything is read, bump what a failure left in the outbox; a Redis error
            # here counts like any other, and the breaker stays (or goes) open.
            return _guarded(functools.partial(_recover_then, fn), client())
        return _guarded(fn, client())
    except pybreaker.CircuitBreakerError as exc:
        _failed_in_request.set(True)
        raise ShelfUnavailable from exc
    except (RedisError, RedisClusterException, OSError) as exc:
        _failed_in_request.set(True)
        logger.warning("shelf redis error", extra={"error": str(exc)})
        raise ShelfUnavailable from exc


def request_started() -> None:
    """Forget the previous request's failure and calls: each request gets one try."""
    _failed_in_request.set(False)
    _calls_in_request.set(0)


def calls_in_request() -> int:
    """How many times the current request has gone to the cache Redis (round trips)."""
    return _calls_in_request.get()


def reset() -> None:
    """Close the breaker and forget every failure of this process, as if it had just started
    with Redis answering (for tests: an earlier test's outage owes the next one nothing)."""
    global _recovery_due
    breaker.close()
    _host.close()
    _recovery_due = False
    request_started()
