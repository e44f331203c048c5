"""/livez is public and says nothing more; /healthz and /metrics need a token or an allowed
address; readiness includes the worker's and beat's heartbeats; the API's errors are JSON."""

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection
from django.db.utils import OperationalError
from django.test import Client

from catalog.tests.factories import ProductFactory
from shelf.tests.servers import celery_beat, celery_worker, wait_until
from shop import heartbeats
from shop.views import server_error

pytestmark = pytest.mark.django_db(transaction=True)
OUTSIDE = {"REMOTE_ADDR": "198.51.100.30"}


def test_livez_is_public_and_says_only_ok():
    response = Client().get("/livez", **OUTSIDE)
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.parametrize("url", ["/healthz", "/metrics"])
def test_ops_endpoints_refuse_strangers_and_open_to_a_token_or_an_allowed_address(
    settings, url
):
    settings.OPS_TOKEN = "s3cret-token-for-tests"
    stranger = Client().get(url, **OUTSIDE)
    assert stranger.status_code == 403 and b"postgresql" not in stranger.content
    wrong = Client().get(url, HTTP_AUTHORIZATION="Bearer nope", **OUTSIDE)
    assert wrong.status_code == 403
    right = Client().get(url, HTTP_AUTHORIZATION="Bearer s3cret-token-for-tests", **OUTSIDE)
    assert right.status_code == 200
    settings.OPS_ALLOWED_ADDRESSES = ["198.51.100.30"]
    assert Client().get(url, **OUTSIDE).status_code == 200
    # Through a proxy of ours, the address that counts is the client's, not the proxy's.
    settings.TRUSTED_PROXIES = ["198.51.100.30"]
    proxied = Client().get(url, HTTP_X_FORWARDED_FOR="203.0.113.8", **OUTSIDE)
    assert proxied.status_code == 403


def test_readiness_reports_the_worker_and_beat_heartbeats_and_their_ages(client, settings):
    broker = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    broker.delete(heartbeats.WORKER_KEY, heartbeats.BEAT_KEY)
    missing = client.get("/healthz").json()
    assert missing["status"] == "degraded"
    assert missing["checks"]["celery_worker"] == {"ok": False, "error": "no heartbeat"}
    assert missing["checks"]["celery_beat"] == {"ok": False, "error": "no heartbeat"}
    heartbeats.record(heartbeats.WORKER_KEY)
    worker_only = client.get("/healthz").json()
    assert worker_only["status"] == "degraded" and worker_only["checks"]["celery_worker"]["ok"]
    heartbeats.record(heartbeats.BEAT_KEY)
    fresh = client.get("/healthz").json()
    assert fresh["status"] == "ok"
    for check in ("celery_worker", "celery_beat"):
        assert fresh["checks"][check]["ok"] is True and 0 <= fresh["checks"][check]["age_s"] < 5
    settings.CELERY_HEARTBEAT_MAX_AGE = 0
    broker.set(heartbeats.BEAT_KEY, "1000000000.0")  # a beat that stopped long ago
    stale = client.get("/healthz").json()
    assert stale["status"] == "degraded" and stale["checks"]["celery_beat"]["age_s"] > 1e8
    broker.set(heartbeats.WORKER_KEY, "garbage")
    unreadable = client.get("/healthz")
    assert unreadable.status_code == 200 and unreadable.json()["status"] == "degraded"
    assert unreadable.json()["checks"]["celery_worker"]["ok"] is False


def _heartbeat_checks(client) -> dict:
    checks = client.get("/healthz").json()["checks"]
    return {name: checks[name] for name in ("celery_worker", "celery_beat")}


@pytest.mark.slow
def test_a_real_worker_and_a_real_beat_each_write_their_own_heartbeat(client):
    """A worker alone: its heartbeat, at start and then on its timer, and beat missing; beat
    alone: its heartbeat, and the worker missing."""
    broker = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    broker.delete(heartbeats.WORKER_KEY, heartbeats.BEAT_KEY)
    database = connection.settings_dict["NAME"]
    with celery_worker(database, CELERY_HEARTBEAT_INTERVAL="1"):
        assert wait_until(lambda: broker.get(heartbeats.WORKER_KEY), timeout=30)
        broker.delete(heartbeats.WORKER_KEY)
        assert wait_until(lambda: broker.get(heartbeats.WORKER_KEY), timeout=10), "only once"
        checks = _heartbeat_checks(client)
        assert checks["celery_worker"]["ok"] and checks["celery_worker"]["age_s"] < 10
        assert checks["celery_beat"] == {"ok": False, "error": "no heartbeat"}
    broker.delete(heartbeats.WORKER_KEY)
    with celery_beat(database):
        assert wait_until(lambda: broker.get(heartbeats.BEAT_KEY), timeout=30)
        checks = _heartbeat_checks(client)
        assert checks["celery_beat"]["ok"] and checks["celery_beat"]["age_s"] < 10
        assert checks["celery_worker"] == {"ok": False, "error": "no heartbeat"}
    print(f"\nheartbeats: {checks}")


def test_api_errors_are_json(settings, rf):
    assert Client().get("/api/v1/products/999999").json() == {"error": "not found"}
    missing = Client().get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.json() == {"error": "not found"}
    assert "text/html" in Client().get("/nothing-here/")["Content-Type"]
    settings.SEARCH_RATE_LIMIT = "1/m"
    ProductFactory(name="Nordvik Lamp")
    client = Client()
    client.get("/api/v1/search?q=lamp")
    limited = client.get("/api/v1/search?q=lamp")
    assert limited.status_code == 429 and limited.json() == {"error": "too many requests"}
    # What handler500 answers while PostgreSQL is away: called as Django calls it, inside the
    # handling of the exception.
    for path, json_expected in (("/api/v1/search", True), ("/", False)):
        try:
            raise OperationalError("connection refused")
        except OperationalError:
            response = server_error(rf.get(path))
        assert response.status_code == 503 and response["Retry-After"] == "30"
        assert ("application/json" in response["Content-Type"]) is json_expected
