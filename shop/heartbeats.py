"""Heartbeats of the Celery worker and of Celery beat, each written by the process it vouches
for, so that /healthz and /metrics tell "no worker" from "no beat".

The worker's comes from a bootstep of its consumer (config/celery.py adds it): the consumer's
own timer writes the time every CELERY_HEARTBEAT_INTERVAL seconds, so it stops when the worker
stops, loses the broker or its event loop is stuck. Beat's comes from its scheduler
(CELERY_BEAT_SCHEDULER): every tick, the moment beat looks for due tasks, writes the time.
(Before, one task that beat scheduled and a worker ran stood for both, and either one missing
looked the same.)

Both are written to the broker Redis: it never evicts, and a worker or a beat that can reach it
is one that can take or send tasks. Only redis-py, Celery and the settings are imported here:
the worker and beat load this module while Celery starts, before Django is set up.
"""

from __future__ import annotations

import logging
import time

import redis
from celery import bootsteps
from celery.beat import PersistentScheduler
from django.conf import settings

logger = logging.getLogger("shelf")

WORKER_KEY = "shelf:worker:heartbeat"
BEAT_KEY = "shelf:beat:heartbeat"


# One client (and connection pool) per broker URL: beat ticks every few seconds.
_clients: dict[str, redis.Redis] = {}


def _broker() -> redis.Redis:
    url = settings.CELERY_BROKER_URL
    client = _clients.get(url)
    if client is None:
        client = _clients[url] = redis.Redis.from_url(
            url, socket_timeout=0.5, socket_connect_timeout=0.5
        )
    return client


def record(key: str) -> None:
    """Write the heartbeat `key` now (the broker down: logged, and its age will tell)."""
    try:
        _broker().set(key, time.time())
    except (redis.RedisError, OSError) as exc:
        logger.warning("heartbeat not written", extra={"key": key, "error": str(exc)})


def last(key: str) -> float | None:
    """When the heartbeat `key` was last written (Unix time), or None if unknown.

    Raises redis.RedisError (or OSError) when the broker cannot be asked."""
    value = _broker().get(key)
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:  # not what we write: no heartbeat of ours
        return None


class WorkerHeartbeat(bootsteps.StartStopStep):
    """Consumer bootstep: the worker's heartbeat, at start and then on the consumer's timer."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, c, **kwargs) -> None:
        self.tref = None
        super().__init__(c, **kwargs)

    def start(self, c) -> None:
        record(WORKER_KEY)
        interval = settings.CELERY_HEARTBEAT_INTERVAL
        self.tref = c.timer.call_repeatedly(interval, record, (WORKER_KEY,))

    def stop(self, c) -> None:
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None

    shutdown = stop


class HeartbeatScheduler(PersistentScheduler):
    """Celery's default scheduler, writing beat's heartbeat at every tick (at least every
    CELERY_HEARTBEAT_INTERVAL seconds, however far apart the due tasks are)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.max_interval = min(self.max_interval, settings.CELERY_HEARTBEAT_INTERVAL)

    def tick(self, *args, **kwargs) -> float:
        delay = super().tick(*args, **kwargs)
        record(BEAT_KEY)
        return delay
