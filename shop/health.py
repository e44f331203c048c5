"""/livez (public), /healthz (readiness, detailed) and /metrics for Prometheus.

/livez says "ok" if the process answers, and nothing more: anyone may ask.
/healthz answers 200 while the shop can serve: PostgreSQL is the only hard dependency. A cache,
state or broker Redis that does not answer, or a heartbeat of the Celery worker or of beat
older than CELERY_HEARTBEAT_MAX_AGE (shop/heartbeats.py), makes the status "degraded"
(pages come from PostgreSQL, sessions from their database copy, cart syncs and emails wait),
still 200, so a load balancer keeps sending traffic to a shop that works.
/healthz and /metrics name our servers' timings and errors and 700-odd series: they answer only
a bearer token (OPS_TOKEN) or an allowed client address (OPS_ALLOWED_ADDRESSES), else 403.
"""

import time
from concurrent.futures import ThreadPoolExecutor

import redis
from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from django_redis import get_redis_connection

from . import heartbeats, metrics
from .db import base as db
from .security import client_ip

CHECK_TIMEOUT = 0.5
# One thread, with its own connection, runs the database check, so that /healthz answers
# within CHECK_TIMEOUT even while a probe waits out a hung server's connect timeout (libpq's
# minimum is 2 s); a check that finds the probe still busy queues behind it and says "down".
_probe = ThreadPoolExecutor(max_workers=1, thread_name_prefix="healthz-db")


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:  # any failure is the answer we are asked for
        return {"ok": False, "error": exc.__class__.__name__}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}


def _select_one() -> None:
    # The probe thread has no request cycle to drop a connection that failed.
    connection.close_if_unusable_or_obsolete()
    with db.read_deadline(CHECK_TIMEOUT), connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _database() -> None:
    if db.breaker.is_open():
        raise DatabaseError("PostgreSQL failed moments ago")
    _probe.submit(_select_one).result(timeout=CHECK_TIMEOUT)


def _redis(url: str):
    def ping() -> None:
        redis.Redis.from_url(
            url, socket_timeout=CHECK_TIMEOUT, socket_connect_timeout=CHECK_TIMEOUT
        ).ping()

    return ping


def _heartbeat(key: str) -> dict:
    """The age of the worker's or beat's last heartbeat (shop/heartbeats.py)."""
    try:
        at = heartbeats.last(key)
    except (redis.RedisError, OSError) as exc:
        return {"ok": False, "error": exc.__class__.__name__}
    if at is None:
        return {"ok": False, "error": "no heartbeat"}
    age = max(0.0, time.time() - at)
    return {"ok": age <= settings.CELERY_HEARTBEAT_MAX_AGE, "age_s": round(age, 1)}


def ops_allowed(request: HttpRequest) -> bool:
    """Whether this request may read the detailed health report and the metrics."""
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if settings.OPS_TOKEN and scheme.lower() == "bearer":
        return constant_time_compare(token.strip(), settings.OPS_TOKEN)
    return client_ip(request) in settings.OPS_ALLOWED_ADDRESSES


def _forbidden() -> JsonResponse:
    return JsonResponse({"error": "forbidden"}, status=403)


@require_safe
@never_cache
def livez(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@require_safe
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    if not ops_allowed(request):
        return _forbidden()
    checks = {
        "postgresql": _timed(_database),
        "cache_redis": _timed(_redis(settings.REDIS_CACHE_URL)),
        "state_redis": _timed(lambda: get_redis_connection("state").ping()),
        "broker": _timed(_redis(settings.CELERY_BROKER_URL)),
        "celery_worker": _heartbeat(heartbeats.WORKER_KEY),
        "celery_beat": _heartbeat(heartbeats.BEAT_KEY),
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
    if not ops_allowed(request):
        return _forbidden()
    body, content_type = metrics.render()
    return HttpResponse(body, content_type=content_type)
