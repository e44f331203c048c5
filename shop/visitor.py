"""A visitor's page in one state-Redis round trip: the session, and with it what the header's
cart count and the recently viewed slot need, read (and the product view recorded) by one script.

A signed-in page view used to cost three round trips to the state Redis: the session (GETEX),
the cart for the header's count, and the recently viewed list. The cart's and the list's keys
depend on who the visitor is, which only the session says, and a script cannot read Django's
session encoding. So each session keeps an index beside it, `visitor:<session key>`, holding the
cart owner its content gives (`u:<user id>` signed in, `s:<token>` for an anonymous visitor with
a cart), and one script reads the session, the index and the keys the index names, sliding the
expiry of the session and the index together. (The script reads keys it was not given as KEYS:
fine on one Redis and behind Sentinel, the state role's topologies; a Redis Cluster would refuse.)

Only the server writes an index, from the session's own content (`owner_of`), and a session key
never changes hands: Django gives a new key at sign-in and at sign-out. Even so the prefetched
values are only used where the owner the request itself gives (its user, its cart token) equals
the index; otherwise they are ignored, the slot reads as before, and the index is written again
(once per session, or after an anonymous visitor's first cart). The script records a product
view only for a signed-in owner and only while the session exists.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field

from django.contrib.auth import SESSION_KEY as USER_SESSION_KEY
from django.http import HttpRequest, HttpResponse
from redis import Redis
from redis.commands.core import Script

from cart import services as cart_services

INDEX_PREFIX = "visitor:"
CART_PREFIX = "cart:"  # as cart.store.key() makes them (shop/tests/test_visitor.py)
RECENT_PREFIX = "recent:"  # shop.history's `recent:u:<user id>`

# KEYS: session, index. ARGV: session ttl, viewed product id or '', recent kept, recent ttl.
# Returns {session} without an index, {session, owner, cart hash, recent list} with one, and
# {nil} without a session.
_READ = """
local session = redis.call('GETEX', KEYS[1], 'EX', ARGV[1])
if not session then return {false} end
local owner = redis.call('GETEX', KEYS[2], 'EX', ARGV[1])
if not owner then return {session} end
local cart = redis.call('HGETALL', 'CART_PREFIX' .. owner)
local recent = {}
if string.sub(owner, 1, 2) == 'u:' then
  local list = 'RECENT_PREFIX' .. owner
  if ARGV[2] ~= '' then
    redis.call('LREM', list, 0, ARGV[2])
    redis.call('LPUSH', list, ARGV[2])
    redis.call('LTRIM', list, 0, tonumber(ARGV[3]) - 1)
    redis.call('EXPIRE', list, ARGV[4])
  end
  recent = redis.call('LRANGE', list, 0, tonumber(ARGV[3]) - 1)
end
return {session, owner, cart, recent}
""".replace("CART_PREFIX", CART_PREFIX).replace("RECENT_PREFIX", RECENT_PREFIX)

# The request being answered, for the product it shows (set by VisitorMiddleware).
_request: ContextVar[HttpRequest | None] = ContextVar("shop_visitor_request", default=None)
_script: Script | None = None


@dataclass
class Prefetched:
    """What came with the session: the index's owner, that owner's cart hash (raw, {} if not
    in Redis) and, signed in, the recently viewed ids with `viewed` recorded first."""

    owner: str | None = None
    cart: dict[bytes, bytes] = field(default_factory=dict)
    recent: list[int] = field(default_factory=list)
    viewed: int | None = None


def owner_of(data: Mapping) -> str | None:
    """The cart owner a session's content names: its user, else its anonymous cart token."""
    user_id = data.get(USER_SESSION_KEY)
    if user_id is not None:
        return cart_services.owner_for_user(user_id)
    return cart_services.owner_for_token(data.get(cart_services.SESSION_KEY))


def read(
    client: Redis, session_key: str, index_key: str, ttl: int, kept: int, kept_seconds: int
) -> tuple[bytes | None, Prefetched]:
    """The raw session and what its index names, in one round trip (RedisError if the state
    Redis fails)."""
    global _script
    if _script is None:
        _script = client.register_script(_READ)
    request = _request.get()
    viewed = getattr(request, "viewed_product_id", None) if request is not None else None
    reply = _script(
        keys=[session_key, index_key],
        args=[ttl, "" if viewed is None else viewed, kept, kept_seconds],
        client=client,  # the state client of the moment (Sentinel may have moved the master)
    )
    found = Prefetched(viewed=viewed)
    if len(reply) > 1:
        found.owner = reply[1].decode()
        flat = reply[2]
        found.cart = dict(zip(flat[::2], flat[1::2], strict=True))
        found.recent = [int(i) for i in reply[3]]
    return reply[0], found


def index_key(session_key: str) -> str:
    return INDEX_PREFIX + session_key


class VisitorMiddleware:
    """Make the request known to the session store, for the product view it records."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)
