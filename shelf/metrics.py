"""The toolkit's Prometheus series. The site exports them with its own at /metrics (the
prometheus-client registry is process-wide, and in multiprocess mode their samples go to
PROMETHEUS_MULTIPROC_DIR like every other series)."""

from collections.abc import Mapping

from prometheus_client import Counter, Gauge, Histogram

CACHE_REQUESTS = Counter(
    "shelf_cache_requests", "Shelf lookups by namespace and result.", ["namespace", "result"]
)
# Each process counts failures in its own breaker (shelf/backend.py; its opening is shared with
# the host's other processes, shelf/hostflag.py); livemax: 1 while any live worker's is open.
BREAKER_OPEN = Gauge(
    "shelf_breaker_open",
    "1 while a process's circuit breaker to the cache Redis is open.",
    multiprocess_mode="livemax",
)
LOADER_SECONDS = Histogram(
    "shelf_loader_seconds", "Time a loader spent reading PostgreSQL.", ["namespace"]
)


def record_cache_counts(counts: Mapping[str, int]) -> None:
    """Add flushed `<namespace>:<result>` counts to the Prometheus counter."""
    for field, n in counts.items():
        namespace, _, result = field.rpartition(":")
        if result != "load_ms":
            CACHE_REQUESTS.labels(namespace, result).inc(n)
EDGE_PURGE_SECONDS = Histogram(
    "shelf_edge_purge_seconds",
    "From the start of a bump after commit to an edge cache's answer to its purge.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
