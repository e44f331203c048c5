"""Carts in the state Redis: one hash per owner, changed only by atomic scripts.

Layout (state role, which must not evict):
- `cart:<owner>`: hash of `p:<product id>` -> quantity, plus `_v`, the cart's version, bumped
  by every change. The hash exists once the cart was loaded, even if empty.
- `cart:dirty`: sorted set of owners changed since their last sync, scored by when they first
  became dirty (so the sync lag can be measured).
- `cart:touched`: sorted set of owners scored by their last change, to find idle carts.

A change never reads, modifies and writes back: each is one Lua script, so two concurrent adds
of the same line both count. Every change first makes sure the cart is loaded from PostgreSQL
(a cart evicted or flushed from Redis comes back as of its last sync).
"""

import time

from django_redis import get_redis_connection
from redis import Redis

DIRTY = "cart:dirty"
TOUCHED = "cart:touched"
VERSION = "_v"
MAX_QUANTITY = 99

# KEYS: cart, dirty, touched. ARGV: field, delta, max, now, owner.
# Returns the new quantity, -1 if it would leave 1..max, -2 if the cart is not loaded.
_ADD = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -2 end
local q = redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
if q > tonumber(ARGV[3]) or q < 1 then
  if q - tonumber(ARGV[2]) <= 0 then redis.call('HDEL', KEYS[1], ARGV[1])
  else redis.call('HINCRBY', KEYS[1], ARGV[1], -tonumber(ARGV[2])) end
  return -1
end
redis.call('HINCRBY', KEYS[1], '_v', 1)
redis.call('ZADD', KEYS[2], 'NX', ARGV[4], ARGV[5])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[5])
return q
"""

# KEYS: cart, dirty, touched. ARGV: field, quantity (0 removes), now, owner.
_SET = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -2 end
if tonumber(ARGV[2]) == 0 then redis.call('HDEL', KEYS[1], ARGV[1])
else redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
redis.call('HINCRBY', KEYS[1], '_v', 1)
redis.call('ZADD', KEYS[2], 'NX', ARGV[3], ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4])
return 1
"""

# KEYS: cart. ARGV: version, then field, quantity pairs. Loads only if absent.
_LOAD = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], '_v', ARGV[1])
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
"""

# KEYS: target cart, source cart, dirty, touched. ARGV: max, now, target owner.
# Keeps the larger quantity of each line, as Django Oscar's basket merge does.
_MERGE = """
local src = redis.call('HGETALL', KEYS[2])
local changed = false
for i = 1, #src, 2 do
  local f, q = src[i], tonumber(src[i + 1])
  if f ~= '_v' then
    local cur = tonumber(redis.call('HGET', KEYS[1], f) or '0')
    if q > cur then
      redis.call('HSET', KEYS[1], f, math.min(q, tonumber(ARGV[1])))
      changed = true
    end
  end
end
if changed then
  redis.call('HINCRBY', KEYS[1], '_v', 1)
  redis.call('ZADD', KEYS[3], 'NX', ARGV[2], ARGV[3])
  redis.call('ZADD', KEYS[4], ARGV[2], ARGV[3])
end
return changed and 1 or 0
"""

# KEYS: cart, dirty, touched. ARGV: now, owner. Removes every line (after an order), keeps `_v`
# growing so the write-behind replaces the synced lines with the empty cart.
_CLEAR = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -2 end
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  if f ~= '_v' then redis.call('HDEL', KEYS[1], f) end
end
redis.call('HINCRBY', KEYS[1], '_v', 1)
redis.call('ZADD', KEYS[2], 'NX', ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[1], ARGV[2])
return 1
"""

# KEYS: cart, dirty. ARGV: synced version, owner. Clears the dirty mark if nothing changed since.
_CLEAN = """
if redis.call('HGET', KEYS[1], '_v') == ARGV[1] then
  redis.call('ZREM', KEYS[2], ARGV[2])
  return 1
end
return 0
"""

# KEYS: cart, dirty, touched. ARGV: synced version, owner, idle-before. Drops an idle, clean cart.
_EVICT = """
if redis.call('ZSCORE', KEYS[2], ARGV[2]) then return 0 end
local v = redis.call('HGET', KEYS[1], '_v')
if v and v ~= ARGV[1] then return 0 end
local touched = tonumber(redis.call('ZSCORE', KEYS[3], ARGV[2]) or '0')
if touched > tonumber(ARGV[3]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[3], ARGV[2])
return 1
"""


def client() -> Redis:
    return get_redis_connection("state")


def key(owner: str) -> str:
    return f"cart:{owner}"


def field(product_id: int) -> str:
    return f"p:{product_id}"


def read(owner: str) -> dict[str, int] | None:
    """The cart hash ({field: quantity, "_v": version}), or None if not loaded."""
    return decoded(client().hgetall(key(owner))) or None


def decoded(raw: dict[bytes, bytes]) -> dict[str, int]:
    """A cart hash as HGETALL answers it, decoded ({} for a cart that is not loaded)."""
    return {k.decode(): int(v) for k, v in raw.items()}


def load(owner: str, version: int, lines: dict[int, int]) -> bool:
    args = [version]
    for product_id, quantity in lines.items():
        args += [field(product_id), quantity]
    return bool(client().eval(_LOAD, 1, key(owner), *args))


def add(owner: str, product_id: int, delta: int, maximum: int) -> int:
    return client().eval(
        _ADD, 3, key(owner), DIRTY, TOUCHED,
        field(product_id), delta, maximum, time.time(), owner,
    )  # fmt: skip


def set_quantity(owner: str, product_id: int, quantity: int) -> int:
    return client().eval(
        _SET, 3, key(owner), DIRTY, TOUCHED, field(product_id), quantity, time.time(), owner
    )


def merge(target: str, source: str) -> bool:
    return bool(
        client().eval(
            _MERGE, 4, key(target), key(source), DIRTY, TOUCHED,
            MAX_QUANTITY, time.time(), target,
        )
    )  # fmt: skip


def clear(owner: str) -> int:
    return client().eval(_CLEAR, 3, key(owner), DIRTY, TOUCHED, time.time(), owner)


def delete(owner: str) -> None:
    pipe = client().pipeline()
    pipe.delete(key(owner))
    pipe.zrem(DIRTY, owner)
    pipe.zrem(TOUCHED, owner)
    pipe.execute()


def dirty(limit: int) -> list[tuple[str, float]]:
    """Owners waiting for a sync, oldest first, with when they became dirty."""
    return [(o.decode(), s) for o, s in client().zrange(DIRTY, 0, limit - 1, withscores=True)]


def dirty_count() -> int:
    return client().zcard(DIRTY)


def mark_clean(owner: str, version: int) -> bool:
    return bool(client().eval(_CLEAN, 2, key(owner), DIRTY, version, owner))


def idle(before: float, limit: int) -> list[str]:
    return [o.decode() for o in client().zrangebyscore(TOUCHED, "-inf", before, 0, limit)]


def evict_if_idle(owner: str, synced_version: int, before: float) -> bool:
    return bool(client().eval(_EVICT, 3, key(owner), DIRTY, TOUCHED, synced_version, owner, before))


def lines_of(cart: dict[str, int]) -> dict[int, int]:
    """{product id: quantity} from a cart hash."""
    return {int(f[2:]): q for f, q in cart.items() if f.startswith("p:")}
