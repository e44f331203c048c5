"""Who the client is behind our proxies, and the search rate limit's counters.

Client address
--------------
Behind nginx, REMOTE_ADDR is nginx's own address; nginx appends the address it saw to
X-Forwarded-For (`$proxy_add_x_forwarded_for`, docker/nginx/shelf.conf). The header is read
only when the direct peer is one of TRUSTED_PROXIES (addresses or networks): anyone else can
write it, and the app may be reached without nginx. Then the client is the right-most entry
that is not one of our proxies: entries to its right were appended by our proxies, entries to
its left by the client, and prove nothing. With TRUSTED_PROXIES empty (the default) the header
is ignored. Login throttling (django-axes) and the rate limits (django-ratelimit) both use
`client_ip`. (django-ipware does this too, but its trusted-proxy option matches header entries
by string prefix rather than checking the peer, and its algorithm changed between majors.)

Rate limit counters
-------------------
django-ratelimit counts in a Django cache with `add` and `incr`. `ShelfRateLimitCache` counts
in process and sums the counts of every process in the cache Redis, through the shelf's circuit
breaker, at most every SYNC_INTERVAL (0.1 s): a search costs no round trip of its own (one
request in a tenth of a second per process carries the sync), a client of one process is
counted exactly, and one spreading its requests over several processes is counted late by at
most that interval. A hung or dead Redis costs a sync at most one short timeout, and nothing
once the breaker is open. While Redis is unavailable the counts are unknown and searches are
not limited (RATELIMIT_FAIL_OPEN): search must keep working from PostgreSQL like every other
page; the limit protects PostgreSQL from one client's flood, and during an outage the shop
would rather serve everyone than no one.
"""

import ipaddress
import threading
import time
from functools import cache

from django.conf import settings
from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from shelf import backend

from .views import is_api

# django-axes' username column (AccessAttempt.username, varchar 255).
USERNAME_RECORDED = 255


Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@cache
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _address(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address: Address | None) -> bool:
    networks = _networks(tuple(settings.TRUSTED_PROXIES))
    return address is not None and any(address in net for net in networks)


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or what our trusted proxies saw (see above)."""
    peer = request.META.get("REMOTE_ADDR", "")
    client = _address(peer)
    if not _trusted(client):
        return peer
    for entry in reversed(request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        address = _address(entry)
        if address is None:
            break  # not written by a proxy of ours: the last proxy's peer is the answer
        client = address
        if not _trusted(address):
            break
    return str(client)


def axes_username(request: HttpRequest, credentials: dict | None = None) -> str | None:
    """The username django-axes records: axes' own choice, cut to its column's 255 characters.

    Django's AuthenticationForm checks no length, so a 10 KB username reached axes' INSERT and
    failed it (a 500, found by shop/tests/test_fuzz.py). No account has a name that long.
    """
    if credentials:
        value = credentials.get("username")
    else:
        value = getattr(request, "data", request.POST).get("username")
    return None if value is None else str(value)[:USERNAME_RECORDED]


def rate_key(group: str, request: HttpRequest) -> str:
    """django-ratelimit's key: one counter per client address."""
    return client_ip(request)


def search_rate(group: str, request: HttpRequest) -> str:
    """django-ratelimit's rate for searches: SEARCH_RATE_LIMIT, read per request."""
    return settings.SEARCH_RATE_LIMIT


def signup_rate(group: str, request: HttpRequest) -> str:
    """django-ratelimit's rate for sign-ups: SIGNUP_RATE_LIMIT, read per request."""
    return settings.SIGNUP_RATE_LIMIT


def password_reset_rate(group: str, request: HttpRequest) -> str:
    """django-ratelimit's rate for password reset requests: PASSWORD_RESET_RATE_LIMIT."""
    return settings.PASSWORD_RESET_RATE_LIMIT


def email_key(group: str, request: HttpRequest) -> str:
    """django-ratelimit's key: the email address a form was given, as reset mail goes to it
    (so many addresses cannot flood one inbox). django-ratelimit hashes it into the key."""
    return str(request.POST.get("email", "")).strip().lower()[:254]


def rate_limited(request: HttpRequest, exception: Exception) -> HttpResponse:
    """RATELIMIT_VIEW: the shop's 429 page, or JSON for the API."""
    if is_api(request):
        response: HttpResponse = JsonResponse({"error": "too many requests"}, status=429)
    else:
        response = render(request, "429.html", {}, status=429)
    response["Retry-After"] = "60"
    return response


# How often a process adds its counts to the shared ones in Redis, and reads those back.
SYNC_INTERVAL = 0.1


class _Counts:
    """Rate-limit counts of this process, summed with the other processes' in Redis at most
    every SYNC_INTERVAL seconds, so that a request costs no round trip of its own.

    A count is what Redis held at the last sync plus what this process added since: exact for
    the clients of one process, and across processes late by at most SYNC_INTERVAL (a client
    spreading requests over N processes gets at most N x SYNC_INTERVAL seconds' worth of
    requests past its limit). While Redis cannot be reached the count is unknown (None), which
    RATELIMIT_FAIL_OPEN decides, as before.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, list[int]] = {}  # key -> [added since the sync, expiry s]
        self._known: dict[str, tuple[int, float]] = {}  # key -> (count in Redis, forget at)
        self._last_sync = 0.0
        self._unknown = False

    def add(self, key: str, n: int, seconds: int) -> int | None:
        """Add `n` to the count of `key` (kept `seconds`); return the count now."""
        now = time.monotonic()
        with self._lock:
            pending = self._pending.setdefault(key, [0, seconds])
            pending[0] += n
            due = now - self._last_sync >= SYNC_INTERVAL
            if due:
                self._last_sync = now
        if due:
            self._sync(now)
        with self._lock:
            if self._unknown:
                return None
            added = self._pending.get(key, (0,))[0]
            return self._known.get(key, (0, 0.0))[0] + added

    def _sync(self, now: float) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
            self._known = {k: v for k, v in self._known.items() if v[1] > now}

        def write(r):
            pipe = r.pipeline(transaction=False)
            for key, (n, seconds) in pending.items():
                pipe.incrby(key, n)
                # A key must never count for ever; NX keeps the window's first expiry.
                pipe.expire(key, seconds, nx=True)
            return pipe.execute()[::2]

        try:
            counts = backend.call(write) if pending else []
        except backend.ShelfUnavailable:
            with self._lock:
                self._unknown = True  # counts of an outage are dropped: fail open, as before
            return
        with self._lock:
            self._unknown = False
            for (key, (_n, seconds)), count in zip(pending.items(), counts, strict=True):
                self._known[key] = (int(count), now + seconds)

    def sync_now(self) -> None:
        """Write this process's counts to Redis now (tests)."""
        self._sync(time.monotonic())

    def discard(self) -> None:
        """Forget every count (tests start from zero, as the Redis they flushed does)."""
        with self._lock:
            self._pending.clear()
            self._known.clear()
            self._unknown = False


_counts = _Counts()
_UNKNOWN = object()  # the count could not be known: the call that follows answers None too


class ShelfRateLimitCache(BaseCache):
    """The add/incr/get that django-ratelimit needs, counted in process and summed in the cache
    Redis (behind the breaker) every SYNC_INTERVAL seconds, see _Counts.

    django-ratelimit calls `add(key, 1)` (0 to only read the count), then `incr` (`get`) when
    `add` answers False; `add` here always counts and answers False, and hands the count to the
    call that follows. Every method answers None when the count is unknown, which
    django-ratelimit reads as "count unknown" (then RATELIMIT_FAIL_OPEN decides). Only
    django-ratelimit may use this alias.
    """

    def __init__(self, location: str, params: dict) -> None:
        super().__init__(params)
        # (key, count) from the last add(), for the incr() or get() that follows it. Django
        # gives each thread (and each async context) its own cache object, so this is too.
        self._counted: tuple[str, object] | None = None

    def _seconds(self, timeout) -> int:
        if timeout is DEFAULT_TIMEOUT:
            timeout = self.default_timeout
        return max(1, int(timeout or 3600))

    @staticmethod
    def _call(fn):
        try:
            return backend.call(fn)
        except backend.ShelfUnavailable:
            return None

    def _take(self, key: str):
        """The count the last add() found for `key`, once; None when it has none."""
        counted, self._counted = self._counted, None
        return counted[1] if counted is not None and counted[0] == key else None

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        key = self.make_and_validate_key(key, version=version)
        count = _counts.add(key, int(value), self._seconds(timeout))
        self._counted = (key, _UNKNOWN if count is None else count)
        return False

    def incr(self, key, delta=1, version=None):
        key = self.make_and_validate_key(key, version=version)
        counted = self._take(key)
        if counted is None:
            counted = _counts.add(key, delta, self.default_timeout)
        elif counted is not _UNKNOWN and delta != 1:
            counted = _counts.add(key, delta - 1, self.default_timeout)  # add() counted one
        return None if counted is _UNKNOWN else counted

    def get(self, key, default=None, version=None):
        key = self.make_and_validate_key(key, version=version)
        counted = self._take(key)
        if counted is None:
            counted = _counts.add(key, 0, self.default_timeout)
        return default if counted in (None, _UNKNOWN) else counted

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        key = self.make_and_validate_key(key, version=version)
        seconds = self._seconds(timeout)
        self._call(lambda r: r.set(key, int(value), ex=seconds))

    def delete(self, key, version=None):
        key = self.make_and_validate_key(key, version=version)
        return bool(self._call(lambda r: r.delete(key)))

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        key = self.make_and_validate_key(key, version=version)
        seconds = self._seconds(timeout)
        return bool(self._call(lambda r: r.expire(key, seconds)))

    def clear(self):
        raise NotImplementedError("rate limit counters expire by themselves; never FLUSHDB")
