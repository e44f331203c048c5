"""Hit, miss, stale and load counters per namespace, cheap enough for every request.

Counts are added up in process memory and written to Redis at most once per FLUSH_INTERVAL
(one pipelined round trip), never once per request. Counts of a process that dies before its
next flush are lost: they are statistics, and the loss is bounded by one interval.

Redis layout (cache role): `shelf:stats:total` and `shelf:stats:m:<unix minute>` hashes with
fields `<namespace>:<result>`; minute buckets live two hours, enough for "last 5 minutes" and
"last hour" views.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter

from django.conf import settings

from . import backend, metrics

FLUSH_INTERVAL = 1.0
# Off only to measure what counting costs (see `manage.py bench_counters`).
enabled: bool = settings.SHELF_COUNTERS
MINUTE_BUCKET_TTL = 2 * 3600
RESULTS = ("hit", "miss", "stale", "load", "error", "bypass")

_lock = threading.Lock()
_counts: Counter[str] = Counter()
_load_ms: Counter[str] = Counter()
_zsets: dict[tuple[str, int], Counter[str]] = {}
_last_flush = time.monotonic()


def count(namespace: str, result: str, n: int = 1) -> None:
    """Count `n` events of `result` (one of RESULTS) for `namespace`."""
    if not enabled:
        return
    with _lock:
        _counts[f"{namespace}:{result}"] += n


def load_time(namespace: str, seconds: float) -> None:
    """Add one loader run's duration to the namespace's total load time."""
    if not enabled:
        return
    metrics.LOADER_SECONDS.labels(namespace).observe(seconds)
    with _lock:
        _load_ms[f"{namespace}:load_ms"] += round(seconds * 1000)


def zincr(key: str, member: str, ttl: int, n: int = 1) -> None:
    """Add `n` to `member` of the sorted set `key` at the next flush (e.g. product views)."""
    with _lock:
        _zsets.setdefault((key, ttl), Counter())[member] += n


def discard() -> None:
    """Drop the counts not flushed yet (tests start from zero)."""
    with _lock:
        _counts.clear()
        _load_ms.clear()
        _zsets.clear()


def snapshot() -> dict[str, int]:
    """Return the counts not flushed yet (for tests and the in-process view)."""
    with _lock:
        return dict(_counts + _load_ms)


def maybe_flush(force: bool = False) -> None:
    """Write the buffered counts to Redis if FLUSH_INTERVAL has passed (or `force`)."""
    global _last_flush
    now = time.monotonic()
    if not force and now - _last_flush < FLUSH_INTERVAL:
        return
    with _lock:
        _last_flush = now
        counts = _counts + _load_ms
        zsets = dict(_zsets)
        _counts.clear()
        _load_ms.clear()
        _zsets.clear()
    if not counts and not zsets:
        return
    metrics.record_cache_counts(counts)

    def write(r):
        minute_key = f"shelf:stats:m:{int(time.time() // 60)}"
        pipe = r.pipeline(transaction=False)
        for field, n in counts.items():
            pipe.hincrby("shelf:stats:total", field, n)
            pipe.hincrby(minute_key, field, n)
        pipe.expire(minute_key, MINUTE_BUCKET_TTL)
        for (key, ttl), members in zsets.items():
            for member, n in members.items():
                pipe.zincrby(key, n, member)
            pipe.expire(key, ttl)
        pipe.execute()

    # Statistics only: counts are dropped while Redis is away.
    with contextlib.suppress(backend.ShelfUnavailable):
        backend.call(write)


def read_minutes(minutes: int) -> list[dict[str, int]]:
    """Flushed counts of each of the last `minutes` minutes, oldest first ({} when unknown)."""
    now = int(time.time() // 60)

    def read(r):
        pipe = r.pipeline(transaction=False)
        for minute in range(now - minutes + 1, now + 1):
            pipe.hgetall(f"shelf:stats:m:{minute}")
        return pipe.execute()

    try:
        buckets = backend.call(read)
    except backend.ShelfUnavailable:
        return [{} for _ in range(minutes)]
    return [{k.decode(): int(v) for k, v in bucket.items()} for bucket in buckets]


def read_totals(window_minutes: int | None = None) -> dict[str, int]:
    """Flushed counts since start, or summed over the last `window_minutes` minutes."""
    if window_minutes is not None:
        merged: Counter[str] = Counter()
        for bucket in read_minutes(window_minutes):
            merged.update(bucket)
        return dict(merged)
    try:
        raw = backend.call(lambda r: r.hgetall("shelf:stats:total"))
    except backend.ShelfUnavailable:
        return {}
    return {k.decode(): int(v) for k, v in raw.items()}
