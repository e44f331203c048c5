"""The ops dashboard at /admin/cache/ and the numbers behind it (also used by cache_stats and
/metrics): hit rates per namespace, each Redis role's health, the write-behind, popular items."""

import contextlib
import logging
import time
from collections import defaultdict
from dataclasses import dataclass

import redis
from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django_redis import get_redis_connection
from redis.exceptions import RedisError

from cart.selectors import cart_dirty_count
from cart.services import sync_lags
from catalog.selectors import popular_products
from shelf import NAMESPACES, backend, bump, stats
from shelf.percentiles import percentile
from shelf.tasks import shelf_warm

from . import heartbeats

logger = logging.getLogger("shelf.ops")

# A namespace under this hit rate, with at least MIN_REQUESTS lookups in the window, is flagged.
LOW_HIT_RATE = 0.70
MIN_REQUESTS = 100
OPS_LOG = "shelf:ops:log"
INFO_FIELDS = (
    "used_memory", "used_memory_human", "maxmemory", "maxmemory_human", "maxmemory_policy",
    "evicted_keys", "instantaneous_ops_per_sec", "connected_clients", "keyspace_hits",
    "keyspace_misses", "aof_enabled", "redis_version",
)  # fmt: skip


@dataclass(frozen=True)
class Rate:
    namespace: str
    hit: int = 0
    stale: int = 0
    miss: int = 0
    load: int = 0
    error: int = 0
    bypass: int = 0
    load_ms: int = 0

    @property
    def lookups(self) -> int:
        return self.hit + self.stale + self.miss + self.bypass

    @property
    def rate(self) -> float | None:
        """Share of lookups served from the shelf (stale serves count: no database read)."""
        return (self.hit + self.stale) / self.lookups if self.lookups else None

    @property
    def low(self) -> bool:
        return self.lookups >= MIN_REQUESTS and (self.rate or 0) < LOW_HIT_RATE


def hit_rates(window_minutes: int | None) -> list[Rate]:
    """Counts per namespace over the last `window_minutes` (None: since the counters began)."""
    by_namespace: dict[str, dict[str, int]] = defaultdict(dict)
    for field, n in stats.read_totals(window_minutes).items():
        namespace, _, result = field.rpartition(":")
        by_namespace[namespace][result] = n
    known = {f for f in Rate.__dataclass_fields__ if f != "namespace"}
    return [
        Rate(name, **{k: v for k, v in by_namespace.get(name, {}).items() if k in known})
        for name in sorted(set(NAMESPACES) | set(by_namespace))
    ]


def hit_rate_chart(minutes: int = 60, width: int = 600, height: int = 120) -> dict:
    """Overall hit rate per minute of the last hour, as SVG polyline points."""
    points, rates = [], []
    for i, bucket in enumerate(stats.read_minutes(minutes)):
        served = sum(n for f, n in bucket.items() if f.endswith((":hit", ":stale")))
        lookups = served + sum(n for f, n in bucket.items() if f.endswith((":miss", ":bypass")))
        if lookups:
            rate = served / lookups
            rates.append(rate)
            x = round(i * width / (minutes - 1), 1)
            points.append(f"{x},{round(height - rate * height, 1)}")
    return {
        "points": " ".join(points), "width": width, "height": height,
        "threshold_y": round(height - LOW_HIT_RATE * height, 1),
        "last": rates[-1] if rates else None,
    }  # fmt: skip


def _info(client: redis.Redis) -> dict:
    try:
        info = client.info()
    except (RedisError, OSError) as exc:
        return {"error": str(exc)}
    return {k: info.get(k) for k in INFO_FIELDS}


def redis_roles() -> dict[str, dict]:
    """INFO of each Redis role: memory against maxmemory, evictions, ops/s, clients."""
    broker = redis.Redis.from_url(
        settings.CELERY_BROKER_URL, socket_timeout=0.5, socket_connect_timeout=0.5
    )
    return {
        "cache": _info(backend.client()),
        "state": _info(get_redis_connection("state")),
        "broker": _info(broker),
    }


def write_behind() -> dict:
    """Dirty carts and recent sync lags (None when the state Redis cannot say)."""
    try:
        lags = sync_lags()
        dirty = cart_dirty_count()
    except (RedisError, OSError):
        return {"dirty": None, "lag_p50": None, "lag_p99": None, "samples": 0}
    return {
        "dirty": dirty, "lag_p50": percentile(lags, 50), "lag_p99": percentile(lags, 99),
        "samples": len(lags),
    }  # fmt: skip


def _broker() -> redis.Redis:
    return redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=0.5)


def heartbeat(key: str) -> float | None:
    """When the worker or beat last wrote its heartbeat (shop/heartbeats.py), or None."""
    try:
        return heartbeats.last(key)
    except (RedisError, OSError):
        return None


def celery_queue_length() -> int | None:
    """Messages waiting in Celery's default queue (a Redis list on the broker)."""
    try:
        return _broker().llen("celery")
    except (RedisError, OSError):
        return None


def ops_log(limit: int = 20) -> list[str]:
    try:
        return [e.decode() for e in backend.call(lambda r: r.lrange(OPS_LOG, 0, limit - 1))]
    except backend.ShelfUnavailable:
        return []


def _log_action(request: HttpRequest, action: str) -> None:
    entry = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {request.user.get_username()}: {action}"
    logger.info("cache action", extra={"user": request.user.get_username(), "action": action})
    with contextlib.suppress(backend.ShelfUnavailable):
        backend.call(lambda r: r.pipeline().lpush(OPS_LOG, entry).ltrim(OPS_LOG, 0, 99).execute())


@staff_member_required
def dashboard(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _act(request)
    windows = [("Last 5 minutes", 5), ("Last hour", 60), ("Since start", None)]
    tables = [(label, hit_rates(minutes)) for label, minutes in windows]
    context = {
        "title": "Cache health",
        "tables": tables,
        "low": [r for r in tables[0][1] if r.low],
        "low_rate": int(LOW_HIT_RATE * 100),
        "chart": hit_rate_chart(),
        "roles": redis_roles(),
        "write_behind": write_behind(),
        "queue": celery_queue_length(),
        "popular": popular_products(10),
        "namespaces": sorted(NAMESPACES),
        "log": ops_log(),
        "breaker": backend.breaker.current_state,
    }
    return render(request, "admin/cache_dashboard.html", context)


def _act(request: HttpRequest) -> HttpResponse:
    action = request.POST.get("action")
    if action == "warm":
        shelf_warm.delay()
        _log_action(request, "asked for a warm-up")
        messages.success(request, "A worker is warming the shelf.")
    elif action == "invalidate" and request.POST.get("namespace") in NAMESPACES:
        namespace = NAMESPACES[request.POST["namespace"]]
        bump(namespace.generation)
        _log_action(request, f"invalidated {namespace.name}")
        messages.success(request, f"Every {namespace.name} entry will be reloaded.")
    else:
        messages.error(request, "Unknown action.")
    return HttpResponseRedirect(request.path)
