"""Observability: counters, /metrics, /healthz, the cache dashboard and cache_stats."""

import re
import threading
import time
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

import shelf
from catalog.tests.factories import ProductFactory
from shelf import backend, outbox, stats
from shelf.tests.servers import database_url_for, gunicorn_server, spare_port
from shop import heartbeats

pytestmark = pytest.mark.django_db

NS = shelf.Namespace("test.ops", schema=1, ttl=1, grace=60)
DOCKER = Path(__file__).resolve().parents[2] / "docker"
# What the operators see: the alert rules and the Grafana dashboard.
OPS_FILES = [DOCKER / "prometheus" / "alerts.yml", DOCKER / "grafana" / "dashboards" / "shelf.json"]


@pytest.fixture
def staff_client():
    user = get_user_model().objects.create_user("ops", "ops@example.com", "pw", is_staff=True)
    client = Client()
    client.force_login(user)
    return client


def _flushed(field: str) -> int:
    stats.maybe_flush(force=True)
    return stats.read_totals().get(field, 0)


def test_counters_move_for_a_miss_a_hit_and_a_stale_serve():
    shelf.fetch(NS, 1, lambda p: "v")
    assert _flushed("test.ops:miss") == 1 and _flushed("test.ops:load") == 1
    shelf.fetch(NS, 1, lambda p: "v")
    assert _flushed("test.ops:hit") == 1
    time.sleep(1.2)
    from django_redis import get_redis_connection

    get_redis_connection("default").set(f"shelf:lock:{NS.key(1)}", "busy", px=5000)
    shelf.fetch(NS, 1, lambda p: "v")
    assert _flushed("test.ops:stale") == 1
    assert _flushed("test.ops:miss") == 1, "a stale serve is not a miss"
    assert stats.read_totals(5)["test.ops:hit"] == 1, "minute buckets agree with the totals"


def test_metrics_parse_and_name_the_series(client):
    product = ProductFactory()
    client.get(f"/p/{product.slug}/")
    client.get(f"/p/{product.slug}/")
    stats.maybe_flush(force=True)
    response = client.get("/metrics")
    assert response.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(response.content.decode())}
    for name in [
        "shelf_cache_requests", "shelf_loader_seconds", "shelf_request_seconds",
        "shelf_request_sql_queries", "shelf_cart_dirty", "shelf_cart_sync_lag_seconds",
        "shelf_celery_queue_length",
    ]:  # fmt: skip
        assert name in families, name
    samples = families["shelf_cache_requests"].samples
    assert any(
        s.labels == {"namespace": "catalog.page", "result": "hit"} and s.value >= 1 for s in samples
    )
    views = {s.labels.get("view") for s in families["shelf_request_seconds"].samples}
    assert "catalog:product" in views


def _gauges(client) -> dict[str, float]:
    body = client.get("/metrics").content.decode()
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
        if not sample.labels
    }


def test_metrics_show_the_breaker_the_outbox_and_the_heartbeats(client):
    """The series the alert rules need (docker/prometheus/alerts.yml)."""
    gauges = _gauges(client)
    assert gauges["shelf_breaker_open"] == 0
    assert gauges["shelf_outbox_pending"] == 0

    backend.breaker.open()
    outbox.record(["test.ops:1"])
    before = time.time()
    heartbeats.record(heartbeats.WORKER_KEY)  # what a worker's timer writes
    heartbeats.record(heartbeats.BEAT_KEY)  # and beat's ticks
    gauges = _gauges(client)
    assert gauges["shelf_breaker_open"] == 1
    assert gauges["shelf_outbox_pending"] == 1
    assert before <= gauges["shelf_celery_worker_heartbeat_timestamp_seconds"] <= time.time()
    assert before <= gauges["shelf_celery_beat_heartbeat_timestamp_seconds"] <= time.time()

    backend.reset()
    assert _gauges(client)["shelf_breaker_open"] == 0


def test_every_shelf_series_the_alerts_and_the_dashboard_use_is_exported(client):
    """A renamed series would silence its alert or empty its panel: they name only what
    /metrics exports."""
    outbox.record(["test.ops:1"])
    heartbeats.record(heartbeats.WORKER_KEY)
    heartbeats.record(heartbeats.BEAT_KEY)
    exported = set()
    for family in text_string_to_metric_families(client.get("/metrics").content.decode()):
        # A family is declared even before it has samples (no lookups, no cart synced yet).
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
        exported |= {family.name, *(s.name for s in family.samples)}
        exported |= {family.name + suffix for suffix in suffixes.get(family.type, [])}
    for path in OPS_FILES:
        used = set(re.findall(r"\bshelf_[a-z_]+", path.read_text()))
        assert used, f"no shelf series in {path}"
        assert used - exported == set(), path


def test_dashboard_refuses_non_staff(client):
    login = "/admin/login/?next=/admin/cache/"
    response = client.get("/admin/cache/")
    assert response.status_code == 302 and response["Location"] == login
    user = get_user_model().objects.create_user("shopper", "s@example.com", "pw")
    client.force_login(user)
    response = client.get("/admin/cache/")
    assert response.status_code == 302 and response["Location"] == login


def test_dashboard_shows_rates_and_warns_under_seventy_percent(staff_client):
    stats.count("catalog.page", "hit", 20)
    stats.count("catalog.page", "miss", 180)
    stats.count("catalog.product", "hit", 500)
    stats.maybe_flush(force=True)
    body = staff_client.get("/admin/cache/").content.decode()
    assert "Hit rate under 70%" in body
    assert "catalog.page" in body.split("Hit rate under 70%")[1].split("</div>")[0]
    assert "catalog.product (" not in body.split("</div>")[0]
    assert "<polyline" in body


def test_no_banner_without_enough_traffic(staff_client):
    stats.count("catalog.page", "miss", 10)
    stats.maybe_flush(force=True)
    assert "Hit rate under 70%" not in staff_client.get("/admin/cache/").content.decode()


def test_invalidate_namespace_action_bumps_its_generation_and_is_logged(staff_client):
    loads = []
    shelf.fetch(NS, 2, lambda p: loads.append(p))
    response = staff_client.post(
        "/admin/cache/", {"action": "invalidate", "namespace": "test.ops"}, follow=True
    )
    assert "Every test.ops entry will be reloaded." in response.content.decode()
    assert "ops: invalidated test.ops" in response.content.decode()
    shelf.fetch(NS, 2, lambda p: loads.append(p))
    assert loads == [2, 2]


def test_healthz_is_ok_then_degraded_not_failed_without_the_cache_redis(client, settings):
    # The worker's and beat's heartbeats, so that only the cache Redis is missing.
    heartbeats.record(heartbeats.WORKER_KEY)
    heartbeats.record(heartbeats.BEAT_KEY)
    assert client.get("/healthz").json()["status"] == "ok"
    settings.REDIS_CACHE_URL = f"redis://127.0.0.1:{spare_port()}/0"
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["cache_redis"]["ok"] is False
    assert body["checks"]["postgresql"]["ok"] is True


def test_cache_stats_prints_the_table(capsys):
    stats.count("catalog.product", "hit", 9)
    stats.count("catalog.product", "miss", 1)
    stats.maybe_flush(force=True)
    call_command("cache_stats")
    out = capsys.readouterr().out
    assert "catalog.product" in out and "90.0%" in out and "Redis roles:" in out


def test_warm_now_runs_the_warm_task_and_is_logged(staff_client):
    product = ProductFactory()
    response = staff_client.post("/admin/cache/", {"action": "warm"}, follow=True)
    assert "A worker is warming the shelf." in response.content.decode()
    assert "ops: asked for a warm-up" in response.content.decode()
    from django_redis import get_redis_connection

    from catalog.cache import PAGE

    assert get_redis_connection("default").exists(PAGE.key(product.slug))


def _served_unmatched(metrics_dir) -> int:
    """How many gunicorn workers have counted a request for an unknown path: each one writes its
    samples to its own histogram_<pid>.db, where the label value is stored as text."""
    return sum(b'"unmatched"' in f.read_bytes() for f in metrics_dir.glob("histogram_*.db"))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_metrics_add_up_the_requests_counted_by_every_gunicorn_worker(tmp_path):
    metrics_dir = tmp_path / "prometheus"
    statuses: list[int] = []
    database_url = database_url_for(connection.settings_dict["NAME"])
    with gunicorn_server(database_url, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir)) as web:
        assert web.workers_booted() == 2
        deadline = time.monotonic() + 30

        def ask_for_unknown_pages() -> None:
            # Until both workers have served some: 4 at a time, so that while one worker is
            # busy the next connection goes to the other.
            while time.monotonic() < deadline and _served_unmatched(metrics_dir) < 2:
                statuses.append(web.get("/no-such-page/")[0])

        threads = [threading.Thread(target=ask_for_unknown_pages) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert _served_unmatched(metrics_dir) == 2, "one worker served every request"
        status, body, _ = web.get("/metrics")

    assert set(statuses) == {404}
    assert status == 200
    counts = {
        sample.labels["view"]: sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
        if sample.name == "shelf_request_seconds_count"
    }
    assert counts["unmatched"] == len(statuses)
