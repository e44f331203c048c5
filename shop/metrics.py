"""Prometheus metrics for /metrics, in prometheus-client's multiprocess mode under gunicorn.

With PROMETHEUS_MULTIPROC_DIR set (make run sets it), each gunicorn worker writes its samples to
files there and the scrape adds them up; without it (tests, manage.py) the process's own
registry serves. Counts are cheap on the request path: the cache counters are added in bulk when
shelf.stats flushes (about once a second), not per lookup; those series are defined in
shelf/metrics.py and exported here with the rest. Gauges that live in Redis
(dirty carts, sync lag, queue length) are read at scrape time only.
"""

import os
from collections.abc import Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

# Imported for its side effect: the toolkit's series join the default registry even in a
# process that has not read the shelf yet.
import shelf.metrics  # noqa: F401
from shelf import outbox

from . import heartbeats

REQUEST_SECONDS = Histogram(
    "shelf_request_seconds", "Request latency by view.", ["view"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)  # fmt: skip
REQUEST_QUERIES = Histogram(
    "shelf_request_sql_queries", "SQL statements per request by view.", ["view"],
    buckets=(0, 1, 2, 3, 5, 10, 20, 50, 100),
)  # fmt: skip


class RedisGauges:
    """Gauges read at scrape time: dirty carts, sync lag, Celery queue length, the worker's and
    beat's heartbeats (Redis), bumps waiting in the outbox (one COUNT of a table that is empty
    while the cache Redis answers)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from . import ops

        state = ops.write_behind()
        yield GaugeMetricFamily("shelf_cart_dirty", "Carts waiting for a sync.", state["dirty"])
        lag = GaugeMetricFamily(
            "shelf_cart_sync_lag_seconds", "Recent cart sync lag.", labels=["quantile"]
        )
        for quantile, value in (("0.5", state["lag_p50"]), ("0.99", state["lag_p99"])):
            if value is not None:
                lag.add_metric([quantile], value)
        yield lag
        queue = ops.celery_queue_length()
        if queue is not None:
            yield GaugeMetricFamily("shelf_celery_queue_length", "Tasks waiting.", queue)
        for key, name, help_text in (
            (heartbeats.WORKER_KEY, "shelf_celery_worker_heartbeat_timestamp_seconds",
             "When a Celery worker last wrote its heartbeat (Unix time)."),
            (heartbeats.BEAT_KEY, "shelf_celery_beat_heartbeat_timestamp_seconds",
             "When Celery beat last looked for due tasks (Unix time)."),
        ):  # fmt: skip
            at = ops.heartbeat(key)
            if at is not None:
                yield GaugeMetricFamily(name, help_text, at)
        yield GaugeMetricFamily(
            "shelf_outbox_pending", "Shelf bumps waiting in the outbox.", outbox.pending()
        )


def render() -> tuple[bytes, str]:
    """The scrape: every process's samples (multiprocess mode) plus the Redis gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    gauges = CollectorRegistry()
    gauges.register(RedisGauges())
    return generate_latest(registry) + generate_latest(gauges), CONTENT_TYPE_LATEST
