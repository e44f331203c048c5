"""Shelf's caching toolkit, a Django app of its own: apps say what to cache, it does how.

It owns the read path (tagged entries, single-flight loads, early refresh, stale-if-error),
the cache Redis connection and its circuit breaker, tag versions bumped after commit with the
durable outbox behind them, hit/miss counters, hourly rankings, shared pages with visitor
slots, the warm-up runner and their Celery tasks. It imports no app of the project: apps
extend it by registering (slot fillers, warm plans) from their AppConfig.ready().

An app's cache.py declares a `Namespace` per kind of entry and calls `fetch`, `fetch_many` or
`fetch_with` with a loader; writes call `bump_on_commit` with the tags they change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .backend import ShelfUnavailable
    from .core import (
        NAMESPACES,
        Loaded,
        Namespace,
        Request,
        bump,
        bump_on_commit,
        fetch,
        fetch_many,
        fetch_with,
        versions,
    )

__all__ = [
    "NAMESPACES",
    "Loaded",
    "Namespace",
    "Request",
    "ShelfUnavailable",
    "bump",
    "bump_on_commit",
    "fetch",
    "fetch_many",
    "fetch_with",
    "versions",
]


def __getattr__(name: str) -> Any:
    # Loaded on first use rather than at import: Django imports this package while it reads
    # INSTALLED_APPS, before the settings the breaker and counters read are safe to touch,
    # and dependency-free modules (shelf.percentiles) must import without Django configured.
    if name not in __all__:
        raise AttributeError(f"module 'shelf' has no attribute {name!r}")
    from . import backend, core

    value = getattr(backend if name == "ShelfUnavailable" else core, name)
    globals()[name] = value  # found directly from now on: shelf.fetch is on every page's path
    return value
