"""/livez is public and says nothing more; /healthz and /metrics need a token or an allowed
address; readiness includes the worker heartbeat; the API's errors are JSON."""

import pytest
import redis
from django.conf import settings as django_settings
from django.db.utils import OperationalError
from django.test import Client

from catalog.tests.factories import ProductFactory
from shop.ops import HEARTBEAT_KEY
from shop.tasks import worker_heartbeat
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


def test_readiness_reports_the_worker_heartbeat_and_its_age(client, settings):
    broker = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    broker.delete(HEARTBEAT_KEY)
    missing = client.get("/healthz").json()
    assert missing["status"] == "degraded"
    assert missing["checks"]["celery_worker"] == {"ok": False, "error": "no heartbeat"}
    worker_heartbeat.delay()  # eager in tests: what beat schedules and a worker runs
    fresh = client.get("/healthz").json()
    assert fresh["status"] == "ok" and fresh["checks"]["celery_worker"]["ok"] is True
    assert 0 <= fresh["checks"]["celery_worker"]["age_s"] < 5
    settings.CELERY_HEARTBEAT_MAX_AGE = 0
    broker.set(HEARTBEAT_KEY, "1000000000.0")  # a worker that stopped long ago
    stale = client.get("/healthz").json()
    assert stale["status"] == "degraded" and stale["checks"]["celery_worker"]["age_s"] > 1e8
    broker.set(HEARTBEAT_KEY, "garbage")
    unreadable = client.get("/healthz")
    assert unreadable.status_code == 200 and unreadable.json()["status"] == "degraded"


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
