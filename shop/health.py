"""/healthz for load balancers, /metrics for Prometheus.

/healthz answers 200 while the shop can serve: PostgreSQL is the only hard dependency. A cache,
state or broker Redis that does not answer makes the status "degraded" (pages come from
PostgreSQL, sessions from their database copy, cart syncs wait), still 200, so a load balancer
keeps sending traffic to a shop that works.
"""

import time

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from django_redis import get_redis_connection

from . import metrics

CHECK_TIMEOUT = 0.5


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:  # any failure is the answer we are asked for
        return {"ok": False, "error": exc.__class__.__name__}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _redis(url: str):
    def ping() -> None:
        redis.Redis.from_url(
            url, socket_timeout=CHECK_TIMEOUT, socket_connect_timeout=CHECK_TIMEOUT
        ).ping()

    return ping


@require_safe
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {
        "postgresql": _timed(_database),
        "cache_redis": _timed(_redis(settings.REDIS_CACHE_URL)),
        "state_redis": _timed(lambda: get_redis_connection("state").ping()),
        "broker": _timed(_redis(settings.CELERY_BROKER_URL)),
    }
    if not checks["postgresql"]["ok"]:
        status, code = "failed", 503
    elif all(c["ok"] for c in checks.values()):
        status, code = "ok", 200
    else:
        status, code = "degraded", 200
    return JsonResponse({"status": status, "checks": checks}, status=code)


@require_safe
@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    body, content_type = metrics.render()
    return HttpResponse(body, content_type=content_type)
