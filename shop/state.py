"""The state Redis client (sessions and carts) behind a circuit breaker.

django-redis builds it (REDIS_CLIENT_CLASS of the "state" alias). A connect or read that fails
(refused, reset, timed out after REDIS_STATE_TIMEOUT) opens the breaker; for
REDIS_STATE_BREAKER_RESET seconds every command, script and pipeline of the process, and of
every other process of the host (shop/breaker.py), then fails at once with StateUnavailable, a
redis-py ConnectionError, which the session store and the cart already handle: sessions come
from PostgreSQL, the header's cart count is left out, and cart changes answer with a message.
So a hung state Redis costs the host one timeout per interval, not up to three per request.
"""

from __future__ import annotations

import functools
from typing import Any

import redis
from django.conf import settings
from redis.client import Pipeline

from .breaker import Breaker

breaker = Breaker(
    "state-redis",
    lambda: settings.REDIS_STATE_BREAKER_RESET,
    lambda: str(settings.CACHES["state"]["LOCATION"]),
)


class StateUnavailable(redis.ConnectionError):
    """The state Redis failed moments ago; not tried again yet."""


def _guarded(call, *args: Any, **kwargs: Any):
    if not breaker.allow():
        raise StateUnavailable("state Redis failed moments ago (REDIS_STATE_BREAKER_RESET)")
    try:
        result = call(*args, **kwargs)
    except (redis.ConnectionError, redis.TimeoutError):
        breaker.failed()
        raise
    breaker.succeeded()
    return result


class StateRedis(redis.Redis):
    def execute_command(self, *args: Any, **options: Any):
        return _guarded(super().execute_command, *args, **options)

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Pipeline:
        pipe = super().pipeline(transaction, shard_hint)
        # Queued commands do not touch the network (Pipeline.execute_command only buffers
        # them); the round trip is execute().
        pipe.execute = functools.partial(_guarded, pipe.execute)
        return pipe
