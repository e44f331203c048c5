"""A per-process copy of the hottest shelf keys (L1), kept fresh by Redis itself.

What it holds
-------------
Decoded entries and tag versions, by their Redis key, at most SHELF_L1_MAX_BYTES of them
(counted as the bytes Redis sent), least recently used first out. An entry is used from L1
exactly as from Redis: only while every tag it recorded has that version, and only until its
logical expiry; each key also leaves L1 after SHELF_L1_TTL seconds, a backstop.

How it stays fresh
------------------
Each process keeps one connection of its own to the cache Redis with server-assisted client
side caching in broadcast mode (`CLIENT TRACKING ON REDIRECT <own id> BCAST PREFIX shelf:tag:
PREFIX <namespace>: ...`, RESP2, subscribed to `__redis__:invalidate`): Redis sends the name of
every tag or entry key that is written, bumped, expired or evicted, and a flush. It queues that
message while it runs the write and sends it in the same turn of its event loop as the write's
reply, so a request that starts after a save's response was sent finds the message in this
connection's socket. Every read that would use L1 first reads
whatever the socket holds (a non-blocking read, about a microsecond when it is empty) and drops
those keys; only then is L1 trusted.

When the channel is lost
------------------------
L1 is used only while the channel is known to be working: connected, every message read (a
backlog too long to read in one go counts as lost), and a PING answered within SHELF_L1_LEASE
seconds (pings ride on the reads, one per quarter lease). Otherwise every read bypasses L1 and
goes to Redis, and when the channel breaks L1 is emptied: a missed invalidation can never leave
a stale copy. After a failure the channel is reconnected at most once per second, on a read,
never while the circuit breaker keeps Redis away.

When the channel goes quiet (no PONG within the lease, or the breaker keeps Redis away) but has
not failed, Redis hangs rather than refuses, and a hung Redis takes no bump either: a write's
bump that could not reach it waits in the outbox (shelf/outbox.py) before the write returns,
and one that did reach it put its invalidation in this channel's socket in the same turn as its
reply. So L1 goes on serving what it holds, for at most SHELF_L1_HOLD seconds past the last
PONG, as long as the outbox holds no bump, asked before the socket is read (a drain bumps
Redis before it deletes its rows: once they are gone, the invalidation is in the socket).
Nothing is added to L1 meanwhile. Without this every page would be rendered from PostgreSQL
for as long as the cache Redis hangs, and the shop would queue (issue 16: 8 clients per
worker). The price: a host cut off from the cache Redis while other hosts still reach it (a
partition, not a hang) may serve its L1 copies up to SHELF_L1_HOLD seconds old; 0 turns the
hold off.

A value fetched from Redis goes into L1 only if no invalidation of its key was read while it was
being fetched (the fetch and the invalidation travel on different connections).

Whole results
-------------
A page read with what it shows (shelf.fetch_with: the page, its tag versions, the stock entries
and theirs), when every one of them was a valid and fresh hit, is also kept whole, under the
page's key, with the keys it was built from: the next read of that page takes it as it is,
without checking each key again, until its earliest expiry or the first invalidation of any of
those keys, which drops it (at most MAX_RESULTS results, least recently used out first).

Off on a Redis Cluster (keys spread over several masters would need one channel per master),
when SHELF_L1_MAX_BYTES is 0, and with the shelf disabled.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from redis.connection import Connection

logger = logging.getLogger("shelf")

CHANNEL = "__redis__:invalidate"
TAG_PREFIX = "shelf:tag:"
# Messages read in one go before the backlog counts as a lost channel.
MAX_DRAIN = 1000
RECONNECT_INTERVAL = 1.0
# Whole results kept (pages with their stock), least recently used out first.
MAX_RESULTS = 4096
# Recently invalidated keys remembered for the fetch-versus-invalidation check; past this many
# every fetch in flight is refused instead.
MAX_RECENT = 10_000

MISSING = object()


class Store:
    """Keys and values bounded by bytes, least recently used out first (not thread-safe alone:
    the caller holds the L1 lock)."""

    def __init__(self, max_bytes: int, ttl: float) -> None:
        self.max_bytes = max_bytes
        self.ttl = ttl
        self.bytes = 0
        self._items: OrderedDict[str, tuple[Any, int, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: str, now: float) -> Any:
        item = self._items.get(key)
        if item is None:
            return MISSING
        if now >= item[2]:
            self.discard(key)
            return MISSING
        self._items.move_to_end(key)
        return item[0]

    def put(self, key: str, value: Any, size: int, now: float) -> None:
        if size > self.max_bytes // 8:
            return  # one huge value would push out everything else
        self.discard(key)
        self._items[key] = (value, size, now + self.ttl)
        self.bytes += size
        while self.bytes > self.max_bytes:
            _key, (_value, dropped, _at) = self._items.popitem(last=False)
            self.bytes -= dropped

    def discard(self, key: str) -> None:
        item = self._items.pop(key, None)
        if item is not None:
            self.bytes -= item[1]

    def clear(self) -> None:
        self._items.clear()
        self.bytes = 0


class L1:
    """The process's L1 and its invalidation channel."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.store = Store(settings.SHELF_L1_MAX_BYTES, settings.SHELF_L1_TTL)
        self.lease = settings.SHELF_L1_LEASE
        self.hold = settings.SHELF_L1_HOLD
        self._conn: Connection | None = None
        self._prefixes: tuple[str, ...] = ()
        self._tracked: frozenset[str] = frozenset()
        self._last_attempt = -RECONNECT_INTERVAL
        self._connecting = False
        self._last_ping = 0.0
        self._last_pong = -1.0
        # When the oldest PING still unanswered was sent (None: none is).
        self._unanswered_since: float | None = None
        # Invalidations read so far, the last one per recent key, and the point before which
        # every fetch is refused (after a flush, a reconnect or too many recent keys).
        self._seq = 0
        self._recent: dict[str, int] = {}
        self._floor = 0
        # Whole results of reads (a page with its stock), by the entry's key, with the keys they
        # were built from: dropped with the first invalidation of any of them.
        self._results: OrderedDict[str, tuple[Any, float, tuple[str, ...]]] = OrderedDict()
        self._deps: dict[str, set[str]] = {}
        self._pid = os.getpid()

    # -- the channel -----------------------------------------------------------------------

    def begin(
        self,
        redis_client: Callable[[], Any],
        prefixes: tuple[str, ...],
        settled: Callable[[], bool],
        usable: bool = True,
    ) -> int | None:
        """Make L1 current for a read that starts now; return a token for `put`, or None if
        L1 must not be used for this read. `prefixes` are the namespaces' key prefixes (the
        channel follows them; a namespace declared later makes it reconnect). `usable` says
        whether Redis may be tried now (else the channel is not reconnected, and L1 serves
        only on hold); `settled()` whether the outbox is empty (see "When the channel is
        lost"); `redis_client()` gives the client whose pool a new channel copies."""
        with self._lock:
            now = time.monotonic()
            if self._conn is not None and prefixes != self._prefixes:
                self._lost(conn=None)
                self._last_attempt = -RECONNECT_INTERVAL
            if self._pid != os.getpid():
                # A forked child shares the parent's socket: never read it, start afresh.
                self._conn, self._pid = None, os.getpid()
                self._lost(conn=None)
            if self._conn is not None:
                if not self._drain(now):
                    return None
                if now - self._last_ping >= self.lease / 4:
                    self._ping(now)
                if self._conn is None:
                    return None
                if usable and now - self._last_pong <= self.lease:
                    return self._seq
                # Not answering (a PING unanswered for a lease: not just idle since the last
                # read), or kept away by the breaker: on hold, within the hold's bound.
                unanswered = self._unanswered_since
                quiet = unanswered is not None and now - unanswered > self.lease
                if (usable and not quiet) or now - self._last_pong > self.lease + self.hold:
                    return None
                hold = True
            elif not usable or self._connecting or now - self._last_attempt < RECONNECT_INTERVAL:
                return None
            else:
                self._connecting, self._last_attempt, hold = True, now, False
        if hold:
            return self._hold(settled)
        # Outside the lock: against a hung server this waits out its timeouts, and the other
        # threads' reads must not queue behind it (they go to Redis meanwhile).
        conn = self._connect(redis_client(), prefixes)
        with self._lock:
            self._connecting = False
            if conn is not None:
                # Anything held before was not watched while the channel was down.
                self._lost(conn=conn)
                self._prefixes, self._tracked = prefixes, frozenset(prefixes)
                self._last_pong = self._last_ping = time.monotonic()  # it just answered
                self._unanswered_since = None
        return None  # this read goes to Redis; the next ones use L1

    def _hold(self, settled: Callable[[], bool]) -> int | None:
        """L1 on hold (see "When the channel is lost"): a token older than the floor, so reads
        use L1 and `put` adds nothing; None if a bump waits in the outbox."""
        # Outside the lock (a query: the other threads' reads must not queue behind it), and
        # before the socket is read again, for the order the module's docstring explains.
        try:
            if not settled():
                return None
        except Exception:  # any failure only means: no L1 for now
            return None
        with self._lock:
            if self._conn is None or not self._drain(time.monotonic()):
                return None
            return self._floor - 1

    def _connect(self, redis_client, prefixes: tuple[str, ...]) -> Connection | None:
        """A new channel: a connection like the client's own (RESP2), following `prefixes`."""
        pool = redis_client.connection_pool
        conn = pool.connection_class(**{**pool.connection_kwargs, "protocol": 2})
        try:
            conn.connect()
            conn.send_command("CLIENT", "ID")
            client_id = conn.read_response()
            args = [a for p in (TAG_PREFIX, *prefixes) for a in ("PREFIX", p)]
            conn.send_command("CLIENT", "TRACKING", "ON", "REDIRECT", client_id, "BCAST", *args)
            conn.read_response()
            conn.send_command("SUBSCRIBE", CHANNEL)
            conn.read_response()
        except Exception as exc:  # any failure only means: no L1 for now
            conn.disconnect()
            logger.warning("shelf L1 channel not connected", extra={"error": str(exc)})
            return None
        logger.info("shelf L1 channel connected", extra={"prefixes": list(prefixes)})
        return conn

    def _drain(self, now: float) -> bool:
        """Read every message waiting; False (and L1 emptied) if the channel is not usable."""
        conn = self._conn
        try:
            for _ in range(MAX_DRAIN):
                if not conn.can_read(timeout=0):
                    return True
                self._handle(conn.read_response(), now)
        except Exception as exc:  # a broken channel, whatever the error
            logger.warning("shelf L1 channel lost", extra={"error": str(exc)})
            self._lost(conn=None)
            return False
        # A backlog this long may hide an invalidation we have not reached: do not trust L1
        # until a read finds the socket empty.
        self._lost(conn=conn)
        return False

    def _handle(self, message: Any, now: float) -> None:
        kind = message[0] if isinstance(message, list) and message else None
        if kind == b"message":
            keys = message[2]
            self._seq += 1
            if keys is None:  # FLUSHDB / FLUSHALL
                self.store.clear()
                self._forget_results()
                self._floor = self._seq
                return
            for raw in keys:
                key = raw.decode()
                self.store.discard(key)
                self._recent[key] = self._seq
                for dependent in self._deps.pop(key, ()):
                    self._drop_result(dependent)
            if len(self._recent) > MAX_RECENT:
                self._recent.clear()
                self._floor = self._seq
        elif kind == b"pong":
            self._last_pong, self._unanswered_since = now, None

    def _ping(self, now: float) -> None:
        try:
            self._conn.send_command("PING")
        except Exception as exc:
            logger.warning("shelf L1 channel lost", extra={"error": str(exc)})
            self._lost(conn=None)
            return
        self._last_ping = now
        if self._unanswered_since is None:
            self._unanswered_since = now

    def _lost(self, conn: Connection | None) -> None:
        """Forget everything held (it may have missed an invalidation); keep `conn` if given."""
        if self._conn is not None and self._conn is not conn:
            self._conn.disconnect()
        self._conn = conn
        self.store.clear()
        self._forget_results()
        self._seq += 1
        self._recent.clear()
        self._floor = self._seq
        if conn is None:
            self._last_pong, self._unanswered_since = -1.0, None

    # -- the values ------------------------------------------------------------------------

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        """The values L1 holds for `keys` (call after `begin` returned a token)."""
        now = time.monotonic()
        found = {}
        with self._lock:
            get = self.store.get
            for key in keys:
                value = get(key, now)
                if value is not MISSING:
                    found[key] = value
        return found

    def put(self, token: int, items: Iterable[tuple[str, Any, int]]) -> None:
        """Keep `items` ((key, value, size)) fetched since `begin` returned `token`, except any
        whose invalidation was read meanwhile (the value may predate the write)."""
        now = time.monotonic()
        with self._lock:
            if token < self._floor:
                return
            for key, value, size in items:
                if self._recent.get(key, -1) > token:
                    continue
                if not key.startswith(TAG_PREFIX) and (
                    key[: key.find(":") + 1] not in self._tracked
                ):
                    continue  # a namespace the channel does not follow (declared since)
                self.store.put(key, value, size, now)

    def result(self, key: str, now: float) -> Any:
        """The whole result kept for `key` (see put_result) until `now` (epoch seconds), or
        MISSING (call after `begin` returned a token)."""
        with self._lock:
            kept = self._results.get(key)
            if kept is None:
                return MISSING
            if now >= kept[1]:
                self._drop_result(key)
                return MISSING
            self._results.move_to_end(key)
            return kept[0]

    def put_result(
        self, token: int, key: str, value: Any, keys: Iterable[str], until: float
    ) -> None:
        """Keep `value`, a result built from `keys` (every key its read fetched, all valid and
        fresh), under `key` until `until` (epoch seconds) or the first invalidation of any of
        `keys`; not if one was invalidated since `begin` returned `token`."""
        keys = tuple(keys)
        with self._lock:
            if token < self._floor or any(self._recent.get(k, -1) > token for k in keys):
                return
            self._drop_result(key)
            self._results[key] = (value, until, keys)
            for k in keys:
                self._deps.setdefault(k, set()).add(key)
            while len(self._results) > MAX_RESULTS:
                self._drop_result(next(iter(self._results)))

    def _drop_result(self, key: str) -> None:
        kept = self._results.pop(key, None)
        if kept is None:
            return
        for k in kept[2]:
            dependents = self._deps.get(k)
            if dependents is not None:
                dependents.discard(key)
                if not dependents:
                    del self._deps[k]

    def _forget_results(self) -> None:
        self._results.clear()
        self._deps.clear()

    def empty(self) -> None:
        """Forget every value held, keeping the channel (tests: a read that must go to Redis)."""
        with self._lock:
            self.store.clear()
            self._forget_results()
            self._seq += 1
            self._floor = self._seq

    def clear(self) -> None:
        """Empty L1 and close the channel (another server; tests)."""
        with self._lock:
            self._lost(conn=None)
            self._last_attempt = -RECONNECT_INTERVAL

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"keys": len(self.store), "bytes": self.store.bytes}
