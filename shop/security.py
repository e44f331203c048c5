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
django-ratelimit counts in a Django cache with `add` and `incr`. `ShelfRateLimitCache` keeps
those counters in the cache Redis through the shelf's circuit breaker: a hung or dead Redis
costs a search at most one short timeout, and nothing once the breaker is open. While Redis is
unavailable the counts are unknown and searches are not limited (RATELIMIT_FAIL_OPEN): search
must keep working from PostgreSQL like every other page; the limit protects PostgreSQL from
one client's flood, and during an outage the shop would rather serve everyone than no one.

django-ratelimit calls `add(key, initial)` and, when the key existed, `incr(key)` (or `get(key)`
when it only reads). `add` runs one script that does the whole count: SET NX EX, else INCR (or
GET), and remembers the answer for the `incr` or `get` of the same key that follows: one round
trip per limited request instead of two.
"""

import ipaddress
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


def rate_limited(request: HttpRequest, exception: Exception) -> HttpResponse:
    """RATELIMIT_VIEW: the shop's 429 page, or JSON for the API."""
    if is_api(request):
        response: HttpResponse = JsonResponse({"error": "too many requests"}, status=429)
    else:
        response = render(request, "429.html", {}, status=429)
    response["Retry-After"] = "60"
    return response


# KEYS: the counter; ARGV: initial value, expiry in seconds. A new counter starts at the initial
# value. An existing one is incremented when the initial value is 1 (django-ratelimit counting a
# request: its `incr` follows) and only read when it is 0 (its `get` follows). EXPIRE NX: a
# counter that somehow lost its expiry must not count for ever. Returns {added, count}.
_COUNT = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
  return {1, tonumber(ARGV[1])}
end
if ARGV[1] == '0' then
  return {0, tonumber(redis.call('GET', KEYS[1]))}
end
local count = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[2], 'NX')
return {0, count}
"""
_UNKNOWN = object()  # add() could not reach Redis: the count that follows is unknown too


class ShelfRateLimitCache(BaseCache):
    """The add/incr/get that django-ratelimit needs, on the cache Redis behind the breaker.

    Every method returns None when Redis cannot be used, which django-ratelimit reads as
    "count unknown" (then RATELIMIT_FAIL_OPEN decides). Only django-ratelimit may use this
    alias: `add` of an existing key with a non-zero value already counts the `incr` that
    django-ratelimit sends next.
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
        seconds = self._seconds(timeout)
        self._counted = None
        answer = self._call(lambda r: r.eval(_COUNT, 1, key, int(value), seconds))
        if answer is None:
            self._counted = (key, _UNKNOWN)
            return None
        added, count = bool(answer[0]), answer[1] if len(answer) > 1 else None
        if not added:
            self._counted = (key, _UNKNOWN if count is None else int(count))
        return added

    def incr(self, key, delta=1, version=None):
        key = self.make_and_validate_key(key, version=version)
        counted = self._take(key)
        if counted is _UNKNOWN:
            return None
        if counted is not None:
            if delta == 1:
                return counted
            delta -= 1  # add() has counted one already

        def incr(r):
            pipe = r.pipeline(transaction=False)
            pipe.incrby(key, delta)
            # A key that expired between add and incr must not become a counter for ever.
            pipe.expire(key, 3600, nx=True)
            return pipe.execute()[0]

        return self._call(incr)

    def get(self, key, default=None, version=None):
        key = self.make_and_validate_key(key, version=version)
        counted = self._take(key)
        if counted is not None:
            return default if counted is _UNKNOWN else counted
        raw = self._call(lambda r: r.get(key))
        return default if raw is None else int(raw)

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
