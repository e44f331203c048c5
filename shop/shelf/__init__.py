"""Shelf's caching toolkit: apps say what to cache, this package does how.

An app's cache.py declares a `Namespace` per kind of entry and calls `fetch`, `fetch_many` or
`fetch_with` with a loader; writes call `bump_on_commit` with the tags they change.
"""

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
    refresh,
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
    "refresh",
    "versions",
]
