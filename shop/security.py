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


class ShelfRateLimitCache(BaseCache):
    """The add/incr/get that django-ratelimit needs, on the cache Redis behind the breaker.

    Every method returns None when Redis cannot be used, which django-ratelimit reads as
    "count unknown" (then RATELIMIT_FAIL_OPEN decides).
    """

    def __init__(self, location: str, params: dict) -> None:
        super().__init__(params)

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

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        key = self.make_and_validate_key(key, version=version)
        seconds = self._seconds(timeout)
        return self._call(lambda r: bool(r.set(key, int(value), nx=True, ex=seconds)))

    def incr(self, key, delta=1, version=None):
        key = self.make_and_validate_key(key, version=version)

        def incr(r):
            pipe = r.pipeline(transaction=False)
            pipe.incrby(key, delta)
            # A key that expired between add and incr must not become a counter for ever.
            pipe.expire(key, 3600, nx=True)
            return pipe.execute()[0]

        return self._call(incr)

    def get(self, key, default=None, version=None):
        key = self.make_and_validate_key(key, version=version)
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
