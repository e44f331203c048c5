"""Who the client is behind our proxies, and the search rate limit's counters.

Client address
--------------
Behind nginx, REMOTE_ADDR is nginx's own address; nginx appends the address it saw to
X-Forwarded-For (`$proxy_add_x_forwarded_for`, docker/nginx/shelf.conf). Everything to the left
of what our own proxies appended was written by the client and proves nothing, so with
TRUSTED_PROXY_COUNT = n the client is the n-th address from the right, and with 0 (no proxy in
front, the default) the header is ignored and REMOTE_ADDR is the client. Login throttling
(django-axes) and the search rate limit (django-ratelimit) both use `client_ip`.

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

from django.conf import settings
from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from shelf import backend

# django-axes' username column (AccessAttempt.username, varchar 255).
USERNAME_RECORDED = 255


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or the one our trusted proxies put in X-Forwarded-For."""
    trusted = settings.TRUSTED_PROXY_COUNT
    if trusted > 0:
        chain = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        chain = [a for a in chain if a]
        if len(chain) >= trusted:
            candidate = chain[-trusted]
            try:
                return str(ipaddress.ip_address(candidate))
            except ValueError:
                pass  # not an address: our proxy did not write it; fall back to the peer
    return request.META.get("REMOTE_ADDR", "")


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


def rate_limited(request: HttpRequest, exception: Exception) -> HttpResponse:
    """RATELIMIT_VIEW: the shop's 429 page."""
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
