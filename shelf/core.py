"""Cache-aside reads with version tags, single-flight loads and early refresh.

How an entry stays correct
--------------------------
Every entry records the versions of the *tags* it was built from (`product:42`, `listing:7`).
A tag's version lives in its own small key; invalidating data means bumping its tags after the
transaction commits. A read takes the entry and the current tag versions in one MGET and uses
the entry only if every recorded version is still current. A loader reads the tag versions
*before* it reads PostgreSQL, so a loader that raced with a write records the old version and its
value can never be served as fresh: the set-after-delete race cannot resurrect old data.

One round trip at most
----------------------
An entry is stored as a small JSON header (the tags it recorded, grouped by prefix, with one
digest of their versions; expiry, load cost, and the keys a page's reader will want next, e.g.
the stock of the products it shows, grouped by prefix) and the JSON value, compressed with the
namespace's zstd dictionary if it has one (shelf/compression.py: the header stays plain, so
that the script below can read it). A page and everything it needs come in one round trip:
from the process's L1 when it holds them (shelf/l1.py, 0 round trips), else one MGET of what
L1 lacks, else one script that reads the entry and then the keys its header names (on a Redis
Cluster, two MGETs: the keys live on several nodes).

Freshness and load
------------------
Each entry carries a logical expiry (its TTL with +-10% jitter) and is kept `grace` seconds past
it. Past the expiry, or a little before it by probabilistic early expiration (XFetch, Vattani et
al., VLDB 2015), one caller takes a short lock and reloads while the others keep being served
the old value. On a miss, one caller across all processes loads; the others wait a bounded time
for its result. If Redis is unavailable the loader runs directly: slower, never an error.

When PostgreSQL fails
---------------------
A loader that raises releases its lock at once. A reader (the loader or a waiter) whose load
fails with a DatabaseError serves the copy it holds, whether invalidated by a tag or past its
expiry, and counts it "stale"; only a reader with no copy at all sees the error (the 503 page).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import math
import random
import time
import uuid
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction
from redis.exceptions import NoScriptError, RedisClusterException, RedisError

from . import backend, compression, edge, l1, outbox, stats

logger = logging.getLogger("shelf")

XFETCH_BETA = 1.0
JITTER = 0.10
_MAX_BUMP = 2**40
_MAX_INIT = 2**52
ENTRY_FORMAT = 3
# Store an entry only if every tag it recorded still has that version: a load that raced with a
# write is dropped instead of overwriting a fresher entry (KEYS: entry, tags; ARGV: body, px,
# versions).
_STORE_IF_CURRENT = """
for i = 2, #KEYS do
  if redis.call('GET', KEYS[i]) ~= ARGV[i + 1] then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""
# Delete a single-flight lock only if we still hold it (it may have expired and been retaken).
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end"
# A page with what it needs in one round trip (one Redis server only: the keys its header names
# are not declared, which a cluster cannot route). KEYS: the entry, then its key tags. Returns
# {values of KEYS} or {values of KEYS, further keys, their values}.
_FETCH_WITH_HEADER = """
local first = redis.call('MGET', unpack(KEYS))
local raw = first[1]
if not raw then return {first} end
local nl = string.find(raw, '\\n', 1, true)
if not nl then return {first} end
local ok, head = pcall(cjson.decode, string.sub(raw, 1, nl - 1))
if not ok or type(head) ~= 'table' then return {first} end
local extra = {}
for prefix, rest in pairs(head['k'] or {}) do
  for _, suffix in ipairs(rest) do extra[#extra + 1] = 'shelf:tag:' .. prefix .. suffix end
end
for prefix, rest in pairs(head['g'] or {}) do
  if type(rest) == 'string' then rest = head['k'][rest] end
  for _, suffix in ipairs(rest) do extra[#extra + 1] = prefix .. suffix end
end
if #extra == 0 then return {first} end
return {first, extra, redis.call('MGET', unpack(extra))}
"""
_FETCH_SHA = hashlib.sha1(_FETCH_WITH_HEADER.encode()).hexdigest()
TAG_PREFIX = l1.TAG_PREFIX

Part = Hashable
Loader = Callable[[list], dict]
Follow = Callable[[Any], list["Request"]]


# Every namespace declared in any app, by name: for the dashboard and "invalidate namespace".
NAMESPACES: dict[str, Namespace] = {}


@dataclass(frozen=True)
class Namespace:
    """What one kind of entry is: its key shape, TTL policy and the tags it depends on.

    `ttl` is seconds, or a function of the loaded value returning seconds. `key_tags(part)`
    names tags known from the key alone (read in the same round trip as the entry); a loader
    may add more by returning `Loaded(data, deps)`. With `early_refresh` an entry nearing or
    past its TTL is reloaded by the one reader that takes its lock while the others keep being
    served it; without, an entry past its TTL is a miss (for entries that writes keep exact, whose
    TTL only bounds a lost write). `prepare(value)` turns a value read from Redis into what
    readers use (e.g. a page split at its slots): once per process for a value held in L1.
    With a `dictionary` values are stored compressed (shelf/compression.py) under keys that
    name the dictionary.
    """

    name: str
    schema: int
    ttl: int | Callable[[Any], int]
    grace: int = 600
    negative_ttl: int = 60
    wait: float = 2.0
    key_tags: Callable[[Any], Sequence[str]] = field(default=lambda part: ())
    early_refresh: bool = True
    prepare: Callable[[Any], Any] | None = None
    dictionary: compression.Dictionary | None = None

    def __post_init__(self) -> None:
        NAMESPACES[self.name] = self

    @functools.cached_property
    def _prefix(self) -> str:
        # Made at the first key, not at import: it reads the dictionary's file.
        # ENTRY_FORMAT: a process that stores entries in another form reads other keys.
        start = f"{self.name}:v{self.schema}f{ENTRY_FORMAT}"
        if self.dictionary is not None and self.dictionary.id:
            return f"{start}z{self.dictionary.id}:"
        return f"{start}:"

    def key(self, part: Part) -> str:
        return f"{self._prefix}{part}"

    def tags(self, part: Part) -> tuple[str, ...]:
        """Tags read with the entry: the namespace's own generation, then the key tags."""
        return (self.generation, *self.key_tags(part))

    @property
    def generation(self) -> str:
        """The tag whose bump expires every entry of this namespace at once."""
        return f"ns:{self.name}"

    def ttl_for(self, data: Any) -> int:
        if data is None:
            return self.negative_ttl
        return self.ttl(data) if callable(self.ttl) else self.ttl


@dataclass(frozen=True)
class Loaded:
    """A loader's value with the tag versions it was read under (from `versions()`)."""

    data: Any
    deps: dict[str, str]


@dataclass(frozen=True)
class Request:
    ns: Namespace
    parts: list
    loader: Loader
    # What a reader of these values reads next (see fetch_with): their keys are stored in the
    # entry's header, so that the next read fetches them in the same round trip.
    follow: Follow | None = None


def tag_key(tag: str) -> str:
    return f"{TAG_PREFIX}{tag}"


def _implicit(key: str | None) -> tuple[str, ...]:
    """The tags an entry's key names (its namespace's generation and key tags): every reader
    knows them from the key and reads them with the entry, so its header does not name them."""
    ns = NAMESPACES.get(key.partition(":")[0]) if key else None
    if ns is None or not key.startswith(ns._prefix):
        return ()
    return ns.tags(key[len(ns._prefix) :])


def _entry(raw: bytes | None, key: str | None = None) -> tuple[dict | None, int]:
    """An entry's envelope (see entry_envelope) and the bytes of its value once decompressed."""
    if raw is None:
        return None, 0
    head, newline, body = raw.partition(b"\n")
    if not newline:
        return None, 0  # not an entry this version wrote: a miss, reloaded in the new form
    try:
        envelope = json.loads(head)
        if "h" not in envelope:
            return None, 0
        groups = envelope.pop("k", {})
        envelope["t"] = [*_implicit(key), *_ungrouped(groups)]
        if "g" in envelope:
            envelope["g"] = {p: groups[s] if isinstance(s, str) else s
                             for p, s in envelope["g"].items()}  # fmt: skip
        if "z" in envelope:
            body = compression.decompress(envelope.pop("z"), body)
            if body is None:
                return None, 0
        envelope["d"] = json.loads(body)
    except ValueError:
        return None, 0
    return envelope, len(head) + len(body)


def entry_envelope(raw: bytes | None, key: str | None = None) -> dict | None:
    """An entry as stored under `key`, decoded: {"t": the tags it recorded, "h": the digest of
    their versions, "x": logical expiry (epoch seconds), "c": load cost, "g": keys read next
    (if any) as {prefix: [suffixes]}, "d": the value}; None if absent or not in this form.
    Without `key`, "t" lacks the tags the key names."""
    return _entry(raw, key)[0]


def entry_bytes(
    envelope: dict, dictionary: compression.Dictionary | None = None, key: str | None = None
) -> bytes:
    """The stored form of `envelope` under `key` (the inverse of entry_envelope; "t" may also
    be the {tag: version} a loader recorded), its value compressed with `dictionary` where that
    pays ("z" in the header names the dictionary).

    The header names the tags the key does not imply, grouped by prefix ("k"), and keeps one
    digest of all their versions ("h") rather than each version: a product page records 13
    tags, whose versions were about a third of its bytes in Redis, and a product's card and
    stock entries record only the tags their keys name.
    """
    head = {k: v for k, v in envelope.items() if k not in ("d", "t")}
    tags = envelope.get("t", {})
    implicit = _implicit(key)
    grouped = _grouped([t for t in tags if t not in implicit])
    if isinstance(tags, dict):
        order = [*implicit, *_ungrouped(grouped)]
        head["h"] = versions_digest([tags[t] for t in order])
    if grouped:
        head["k"] = grouped
    if "g" in head:
        # A page follows the stock of the products whose tags it records: the same ids, named
        # once (a follow group's suffixes may be a tag group's prefix).
        same = {tuple(suffixes): prefix for prefix, suffixes in grouped.items()}
        head["g"] = {p: same.get(tuple(s), s) for p, s in head["g"].items()}
    body = json.dumps(envelope["d"], separators=(",", ":")).encode()
    packed = dictionary.compress(body) if dictionary is not None else None
    if packed is not None:
        head["z"], body = dictionary.id, packed
    return b"%s\n%s" % (json.dumps(head, separators=(",", ":")).encode(), body)


def _decode(key: str, raw: bytes | None) -> tuple[dict | None, int]:
    """An entry's envelope, its value prepared for readers (Namespace.prepare), and its size."""
    envelope, size = _entry(raw, key)
    if envelope is None:
        return None, 0
    ns = NAMESPACES.get(key.partition(":")[0])
    if ns is not None and ns.prepare is not None and envelope["d"] is not None:
        envelope["d"] = ns.prepare(envelope["d"])
    return envelope, size


def _str(raw: bytes | str | None) -> str | None:
    return raw.decode() if isinstance(raw, bytes) else raw


class _Reader:
    """Values fetched during one read, so that no key is fetched twice: tag versions (str or
    None) and decoded envelopes (dict or None) by key, from L1 where it may be used, else from
    Redis. With `use_l1`, `keep()` then gives L1 what came from Redis."""

    def __init__(self, use_l1: bool = False) -> None:
        self.raw: dict[str, Any] = {}
        self.token = _l1_begin() if use_l1 else None
        self._fetched: dict[str, int] = {}  # key -> bytes, of what came from Redis
        self._keep: list[str] = []
        # Whether every entry read so far was a valid, fresh hit (then the whole result may be
        # kept in L1, see fetch_with), their earliest expiry, and the hits per namespace.
        self.clean = True
        self.until = math.inf
        self.hits: list[tuple[str, int]] = []

    def _take(self, keys: Iterable[str], values: Iterable[Any]) -> None:
        for key, value in zip(keys, values, strict=True):
            if key.startswith(TAG_PREFIX):
                self.raw[key] = _str(value)
                self._fetched[key] = 64
            elif key.partition(":")[0] in NAMESPACES:
                self.raw[key], self._fetched[key] = _decode(key, value)
            else:  # a lock: its token
                self.raw[key] = value

    def _from_l1(self, keys: list[str]) -> list[str]:
        """Take what L1 holds of `keys`; return the rest."""
        if self.token is None:
            return keys
        found = _l1.get_many(keys)
        self.raw.update(found)
        return [k for k in keys if k not in found]

    def mget(self, keys: Iterable[str]) -> None:
        wanted = self._from_l1([k for k in dict.fromkeys(keys) if k not in self.raw])
        if wanted:
            self._take(wanted, backend.call(lambda r: backend.mget(r, wanted)))

    def mget_with_header(self, key: str, key_tags: list[str]) -> None:
        """Fetch an entry, its key tags and whatever its header names, in one round trip."""
        if key not in self.raw:
            self._from_l1([key])
        envelope = self.raw.get(key)
        if envelope is not None:  # from L1 (or this read): its header says what else to get
            self.mget([*key_tags, *_header_keys(envelope)])
            return
        wanted = [k for k in [key, *key_tags] if k not in self.raw]

        def fetch(r):
            if backend.is_cluster(r):
                first = backend.mget(r, wanted)
                envelope = _decode(key, first[0])[0]
                extra = _header_keys(envelope) if envelope else []
                return [first, extra, backend.mget(r, extra)] if extra else [first]
            try:
                return r.evalsha(_FETCH_SHA, len(wanted), *wanted)
            except NoScriptError:  # a restarted server: EVAL sends it and caches it again
                return r.eval(_FETCH_WITH_HEADER, len(wanted), *wanted)

        replies = backend.call(fetch)
        self._take(wanted, replies[0])
        if len(replies) == 3:
            extra = [_str(k) for k in replies[1]]
            new = [(k, v) for k, v in zip(extra, replies[2], strict=True) if k not in self.raw]
            self._take([k for k, _ in new], [v for _, v in new])

    def keep(self, key: str) -> None:
        """Give L1 this entry (valid and fresh) if it came from Redis in this read."""
        if self.token is not None and key in self._fetched:
            self._keep.append(key)

    def done(self) -> None:
        """Hand L1 the tag versions and the kept entries fetched in this read."""
        if self.token is None:
            return
        items = [(k, self.raw[k], n) for k, n in self._fetched.items()
                 if k.startswith(TAG_PREFIX) and self.raw[k] is not None]  # fmt: skip
        items += [(k, self.raw[k], self._fetched[k]) for k in self._keep]
        if items:
            _l1.put(self.token, items)


def _header_keys(envelope: dict) -> list[str]:
    keys = [tag_key(t) for t in envelope["t"]]
    for prefix, suffixes in envelope.get("g", {}).items():
        keys += [prefix + s for s in suffixes]
    return keys


def _ungrouped(groups: dict[str, list[str]]) -> list[str]:
    return [prefix + suffix for prefix, suffixes in groups.items() for suffix in suffixes]


def versions_digest(values: Sequence[str]) -> str:
    """What an entry keeps of the versions of the tags it recorded (in its header's order): 64
    bits, so that a bumped tag matches an old entry with a chance of 2**-64."""
    return hashlib.blake2b("\0".join(values).encode(), digest_size=8).hexdigest()


def _grouped(keys: list[str]) -> dict[str, list[str]]:
    """`keys` as {prefix up to the last ":": [the rest]}: the stock keys of a page's 9 products
    take a third of the bytes this way."""
    groups: dict[str, list[str]] = {}
    for key in keys:
        prefix, colon, suffix = key.rpartition(":")
        groups.setdefault(prefix + colon, []).append(suffix)
    return groups


# The process's L1 (shelf/l1.py), made at the first read for the cache alias's location (tests
# move it to other servers); None while it is off.
_l1: l1.L1 | None = None
_l1_location: Any = None


def _l1_begin() -> int | None:
    """Make L1 current for a read that starts now; None if this read must not use it."""
    global _l1, _l1_location
    # While Redis may not be tried (breaker open, or a failure earlier in this request) L1
    # still serves on hold, if its channel only went quiet (shelf/l1.py).
    usable = backend.available()
    if not settings.SHELF_ENABLED:
        return None
    try:
        location = settings.CACHES["default"]["LOCATION"]
        if location != _l1_location:
            if not usable:
                return None
            if _l1 is not None:
                _l1.clear()
            _l1, _l1_location = _make_l1(), location
        if _l1 is None:
            return None
        return _l1.begin(backend.client, _prefixes(), outbox.settled, usable)
    except (RedisError, RedisClusterException, OSError):
        return None  # no client to be had now: this read goes to Redis, and fails over there


@functools.cache
def _prefixes_of(count: int) -> tuple[str, ...]:
    return tuple(f"{name}:" for name in NAMESPACES)


def _prefixes() -> tuple[str, ...]:
    """The key prefixes of the namespaces declared so far (they are never removed)."""
    return _prefixes_of(len(NAMESPACES))


def _make_l1() -> l1.L1 | None:
    if not settings.SHELF_ENABLED or settings.SHELF_L1_MAX_BYTES <= 0:
        return None
    if backend.is_cluster(backend.client()):
        logger.warning(
            "shelf L1 off: the cache Redis is a cluster (one invalidation channel per master "
            "is not built; see the README)"
        )
        return None
    return l1.L1()


def l1_empty() -> None:
    """Empty this process's L1, keeping its channel (tests: the next read goes to Redis)."""
    if _l1 is not None:
        _l1.empty()


def versions(tags: Iterable[str]) -> dict[str, str]:
    """Return the current version of each tag, creating missing ones.

    Call this *before* reading the data the tags protect. With Redis unavailable it returns {}:
    the request that called it cannot store anything then.
    """
    keys = {tag: tag_key(tag) for tag in dict.fromkeys(tags)}
    edge.note(keys)  # a loader's tags: its page at the edge depends on them too
    if not keys or not backend.available():
        return {}
    reader = _Reader()
    try:
        reader.mget(keys.values())
        return _ensure_tags(reader, keys)
    except backend.ShelfUnavailable:
        return {}  # nothing will be stored in this request either


def _ensure_tags(reader: _Reader, keys: dict[str, str]) -> dict[str, str]:
    missing = [k for k in keys.values() if reader.raw.get(k) is None]
    if missing:

        def create(r):
            pipe = r.pipeline(transaction=False)
            for k in missing:
                # No TTL: a tag key of 72 B would cost about 35 B more in Redis's table of
                # expiring keys, and the cache role's allkeys-lru evicts the tags of products
                # nobody views with their entries (an evicted tag only makes its entries miss).
                pipe.set(k, random.randint(1, _MAX_INIT), nx=True)
                pipe.get(k)
            return pipe.execute()[1::2]

        reader._take(missing, backend.call(create))
    return {tag: reader.raw[k] for tag, k in keys.items()}


def bump(*tags: str) -> None:
    """Give each tag a new version now, invalidating every entry built from it.

    INCRBY by a random amount: an existing tag moves to a value it never had, and a tag that was
    evicted starts at a random value rather than one an old entry may have recorded.
    """
    if not tags or not settings.SHELF_ENABLED:
        # Disabled (benchmarks only): nothing is read from the shelf, so nothing is owed; flush
        # the cache Redis before enabling it again.
        return
    started = time.perf_counter()
    try:
        backend.call(lambda r: write_bumps(r, tags))
    except backend.ShelfUnavailable:
        # Dropping it would leave the entries valid until their TTL once Redis answers again.
        # The edges are purged now too (a page fetched without Redis is fresh), and again after
        # the outbox's bump (until then, a process that reads Redis may serve the old page).
        outbox.record(tags)
    edge.purge_after_bump(tags, started)


def write_bumps(r, tags: Iterable[str]) -> None:
    """Bump `tags` with client `r` in one round trip (raises the client's errors)."""
    pipe = r.pipeline(transaction=False)
    for tag in dict.fromkeys(tags):
        pipe.incrby(tag_key(tag), random.randint(1, _MAX_BUMP))
    pipe.execute()


def bump_on_commit(*tags: str, then: Callable[[], None] | None = None) -> None:
    """Bump the tags once the current transaction commits (at once outside one), then run `then`.

    Bumping before the commit would let a concurrent reader re-cache the old row.
    """

    def run() -> None:
        bump(*tags)
        if then is not None:
            then()

    transaction.on_commit(run, robust=True)


def _expired(envelope: dict, now: float) -> bool:
    """XFetch: expire early with a probability that grows as the expiry nears."""
    cost = envelope.get("c", 0.0)
    return now - cost * XFETCH_BETA * math.log(random.random() or 1e-12) >= envelope["x"]


def _valid(envelope: dict, reader: _Reader) -> bool:
    current = [reader.raw.get(TAG_PREFIX + t) for t in envelope["t"]]
    return None not in current and versions_digest(current) == envelope["h"]


def _follow_keys(follow: Follow | None, data: Any) -> list[str]:
    """The keys a reader of `data` will read next (stored in the header, see fetch_with)."""
    if follow is None or data is None:
        return []
    keys: list[str] = []
    for nxt in follow(data):
        keys += [nxt.ns.key(p) for p in nxt.parts]
        keys += [tag_key(t) for p in nxt.parts for t in nxt.ns.tags(p)]
    return list(dict.fromkeys(keys))


def _envelope(
    ns: Namespace, part: Part, data: Any, deps: dict[str, str], cost: float, follow: list[str]
) -> tuple[bytes, int]:
    """The stored form of an entry (header line, then the value) and its Redis TTL in ms."""
    ttl = ns.ttl_for(data) * random.uniform(1 - JITTER, 1 + JITTER)
    grace = ns.grace if data is not None else 0
    envelope = {"t": deps, "x": round(time.time() + ttl, 2), "c": round(cost, 4), "d": data}
    if follow:
        envelope["g"] = _grouped(follow)
    return entry_bytes(envelope, ns.dictionary, ns.key(part)), max(1, round((ttl + grace) * 1000))


def _run_loader(req: Request, parts: list) -> dict:
    started = time.perf_counter()
    loaded = req.loader(parts)
    seconds = time.perf_counter() - started
    stats.load_time(req.ns.name, seconds)
    stats.count(req.ns.name, "load", len(parts))
    if seconds > settings.SHELF_SLOW_LOAD:
        logger.warning(
            "shelf slow load",
            extra={"namespace": req.ns.name, "seconds": round(seconds, 3), "parts": len(parts)},
        )
    return loaded


def _plain(value: Any) -> Any:
    return value.data if isinstance(value, Loaded) else value


def _queue_releases(pipe, locks: dict[str, str]) -> None:
    for lock_key, token in locks.items():
        # The same EVAL as pipe.eval(), which redis-py's cluster pipeline refuses; a one-key
        # script is routed to that key's slot like any command.
        pipe.execute_command("EVAL", _RELEASE, 1, lock_key, token)


def _release(locks: dict[str, str]) -> None:
    """Release `locks` now (best effort: unreleased, they expire after their timeout)."""
    if not locks:
        return

    def release(r):
        pipe = r.pipeline(transaction=False)
        _queue_releases(pipe, locks)
        pipe.execute()

    with contextlib.suppress(backend.ShelfUnavailable):
        backend.call(release)


def _load_and_store(req: Request, parts: list, reader: _Reader, locks: dict[str, str]) -> dict:
    """Load `parts` (whose key tags are in `reader`), store them, release `locks`.

    A loader that fails releases the locks too: waiters then stop waiting at once and fall
    back to the copy they hold instead of waiting out the lock and failing later.
    """
    ns = req.ns
    try:
        key_tags = {t: tag_key(t) for p in parts for t in ns.tags(p)}
        tag_versions = _ensure_tags(reader, key_tags)
        started = time.perf_counter()
        loaded = _run_loader(req, parts)
    except BaseException:
        _release(locks)
        raise
    cost = (time.perf_counter() - started) / max(1, len(parts))
    out, writes = {}, []
    for part in parts:
        value = loaded.get(part)
        deps = {t: tag_versions[t] for t in ns.tags(part)}
        if isinstance(value, Loaded):
            deps.update(value.deps)
        data = _plain(value)
        follow = _follow_keys(req.follow, data)
        writes.append((ns.key(part), deps, *_envelope(ns, part, data, deps, cost, follow)))
        # What a reader gets is the same whether it was loaded or read from Redis.
        out[part] = ns.prepare(data) if ns.prepare is not None and data is not None else data

    def store(r):
        pipe = r.pipeline(transaction=False)
        cluster = backend.is_cluster(r)
        for key, deps, body, px in writes:
            if cluster:
                # The tags live in other hash slots: store unconditionally; reads still refuse
                # an entry whose tags moved on.
                pipe.set(key, body, px=px)
            else:
                tags = [tag_key(t) for t in deps]
                pipe.execute_command(
                    "EVAL", _STORE_IF_CURRENT, 1 + len(tags), key, *tags, body, px, *deps.values()
                )
        if cluster and locks:
            # A cluster pipeline runs node by node, in no set order: a lock released before
            # its entry landed on another node would send a waiter that looked in between to
            # PostgreSQL. Entries first, then the locks (one more round trip, on misses only).
            pipe.execute()
            pipe = r.pipeline(transaction=False)
        _queue_releases(pipe, locks)
        pipe.execute()

    with contextlib.suppress(backend.ShelfUnavailable):
        backend.call(store)
    return out


def _lock_key(key: str) -> str:
    return f"shelf:lock:{key}"


def _try_locks(keys: list[str], timeout: float) -> dict[str, str]:
    """Take the single-flight lock of each key we can; return {lock key: token} of those won."""
    token = uuid.uuid4().hex
    lock_keys = [_lock_key(k) for k in keys]

    def take(r):
        pipe = r.pipeline(transaction=False)
        for lk in lock_keys:
            pipe.set(lk, token, nx=True, px=max(1, round(timeout * 1000)))
        return pipe.execute()

    won = backend.call(take)
    return {lk: token for lk, ok in zip(lock_keys, won, strict=True) if ok}


def _wait_for(req: Request, parts: list, reader: _Reader, stale: dict) -> dict:
    """Poll for entries another caller is loading; load ourselves what does not come in time.

    A part stops waiting as soon as its lock is gone without a valid entry (the other loader
    failed, or stored a value that a write made stale meanwhile): no one else will bring it.
    If our own load then fails with a database error, the `stale` copies are served.
    """
    ns, found, stale = req.ns, {}, dict(stale)
    deadline = time.monotonic() + ns.wait
    pause = 0.005
    pending, abandoned = list(parts), []
    latest = reader
    while pending and time.monotonic() < deadline:
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
        latest = _Reader()
        # Locks before entries: a loader stores its entry before it releases its lock, so a
        # lock seen gone here means its entry, if any, is visible to the read below. (One MGET
        # would do on one server; on a cluster its keys are read node by node, in no order.)
        latest.mget(_lock_key(ns.key(p)) for p in pending)
        latest.mget(
            [ns.key(p) for p in pending] + [tag_key(t) for p in pending for t in ns.tags(p)]
        )
        for part in list(pending):
            env = latest.raw[ns.key(part)]
            if env is not None:
                latest.mget(tag_key(t) for t in env["t"])
                if _valid(env, latest):
                    found[part] = env["d"]
                    pending.remove(part)
                    continue
                stale[part] = env["d"]  # at least as new as the copy we started with
            if latest.raw[_lock_key(ns.key(part))] is None:
                pending.remove(part)  # its loader is done and brought nothing usable
                abandoned.append(part)
    stats.count(ns.name, "hit", len(found))
    if pending or abandoned:
        # `latest` holds tag versions read before this load, as _load_and_store requires.
        found.update(_safe_load(req, pending + abandoned, latest, {}, fallback=stale))
    return found


def _resolve(req: Request, reader: _Reader) -> dict:
    ns = req.ns
    keys = {p: ns.key(p) for p in req.parts}
    key_tags = [tag_key(t) for p in req.parts for t in ns.tags(p)]
    if req.follow is not None and len(keys) == 1:
        reader.mget_with_header(keys[req.parts[0]], key_tags)
    else:
        reader.mget([*keys.values(), *key_tags])
        # Tags the entries recorded beyond their key tags (another round trip, if any).
        reader.mget(tag_key(t) for k in keys.values() if reader.raw[k] for t in reader.raw[k]["t"])
    envelopes = {p: reader.raw[k] for p, k in keys.items()}

    now = time.time()
    out: dict = {}
    refresh: list = []  # served, but due for a reload by whoever takes the lock
    missing: list = []
    stale: dict = {}  # invalid values: served only if PostgreSQL is down
    hits = 0
    for part, env in envelopes.items():
        if env is None:
            missing.append(part)
        elif not _valid(env, reader) or (not ns.early_refresh and now >= env["x"]):
            missing.append(part)
            stale[part] = env["d"]
        elif ns.early_refresh and _expired(env, now):
            out[part] = env["d"]
            refresh.append(part)
            stats.count(ns.name, "stale" if now >= env["x"] else "hit")
        else:
            out[part] = env["d"]
            hits += 1
            reader.keep(keys[part])
            reader.until = min(reader.until, env["x"])
    if hits:
        stats.count(ns.name, "hit", hits)
        reader.hits.append((ns.name, hits))
    if refresh or missing:
        reader.clean = False

    if refresh:
        locks = _try_locks([keys[p] for p in refresh], timeout=ns.wait)
        won = [p for p in refresh if _lock_key(keys[p]) in locks]
        if won:
            # Already counted above as served ("stale" or "hit"): a failed reload adds nothing.
            out.update(_safe_load(req, won, reader, locks, fallback=out, count=False))
    if missing:
        stats.count(ns.name, "miss", len(missing))
        locks = _try_locks([keys[p] for p in missing], timeout=ns.wait)
        won = [p for p in missing if _lock_key(keys[p]) in locks]
        lost = [p for p in missing if p not in won]
        if won:
            out.update(_safe_load(req, won, reader, locks, fallback=stale))
        if lost:
            out.update(_wait_for(req, lost, reader, stale))
    return out


def _safe_load(
    req: Request, parts: list, reader: _Reader, locks: dict, fallback: dict, count: bool = True
) -> dict:
    """Load and store; if PostgreSQL fails, serve what the shelf still holds (stale-if-error),
    counted "stale" unless `count` is False."""
    try:
        return _load_and_store(req, parts, reader, locks)
    except DatabaseError:
        if not all(p in fallback for p in parts):
            raise
        logger.warning("shelf serving stale %s entries: database error", req.ns.name)
        if count:
            stats.count(req.ns.name, "stale", len(parts))
        return {p: fallback[p] for p in parts}


def _bypass(req: Request) -> dict:
    stats.count(req.ns.name, "bypass", len(req.parts))
    return {p: _plain(req.loader(req.parts).get(p)) for p in req.parts}


def _read(req: Request, reader: _Reader) -> dict:
    if not req.parts:
        return {}
    usable = backend.available()
    if not usable and reader.token is None:
        reader.clean = False
        return _bypass(req)
    try:
        # Also while Redis may not be tried, if L1 is on hold: what it lacks raises at once.
        return _resolve(req, reader)
    except backend.ShelfUnavailable:
        reader.clean = False
        if usable:
            stats.count(req.ns.name, "error")
        return _bypass(req)


def fetch_many(ns: Namespace, parts: Iterable[Part], loader: Loader) -> dict:
    """Return {part: value} for `parts`, from the shelf when valid, else from `loader`.

    `loader(parts)` returns {part: value}; a part it leaves out is cached as None, briefly.
    """
    parts = list(dict.fromkeys(parts))
    if not parts:  # e.g. a first visit's recently viewed cards: no L1 check, no round trip
        return {}
    reader = _Reader(use_l1=True)
    found = _read(Request(ns, parts, loader), reader)
    reader.done()
    edge.note_keys(reader.raw, TAG_PREFIX)
    return found


def fetch(ns: Namespace, part: Part, loader: Callable[[Any], Any]) -> Any:
    """Return one value; `loader(part)` builds it on a miss."""
    return fetch_many(ns, [part], lambda parts: {parts[0]: loader(parts[0])})[part]


def fetch_with(
    ns: Namespace, part: Part, loader: Callable[[Any], Any], follow: Follow
) -> tuple[Any, list[dict]]:
    """Return one value and the results of the reads `follow(value)` names.

    The entry's header names the keys of those reads, so that the value and what follows it
    come in one round trip (none when L1 holds them all).
    """
    reader = _Reader(use_l1=True)
    key = ns.key(part)
    if reader.token is not None:
        kept = _l1.result(key, time.time())
        if kept is not l1.MISSING:
            value, results, hits, tags = kept
            for name, n in hits:
                stats.count(name, "hit", n)
            edge.note(tags)
            return value, results
    req = Request(ns, [part], lambda parts: {parts[0]: loader(parts[0])}, follow=follow)
    value = _read(req, reader)[part]
    results = [] if value is None else [_read(nxt, reader) for nxt in follow(value)]
    reader.done()
    edge.note_keys(reader.raw, TAG_PREFIX)
    if reader.token is not None and reader.clean:
        # Every key it read was a valid, fresh hit: keep the whole result until the first
        # invalidation of any of them (shelf/l1.py), with its tags for the edge.
        tags = tuple(k[len(TAG_PREFIX) :] for k in reader.raw if k.startswith(TAG_PREFIX))
        kept = (value, results, reader.hits, tags)
        _l1.put_result(reader.token, key, kept, reader.raw, reader.until)
    return value, results
