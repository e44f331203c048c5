"""A circuit breaker that never holds a lock while the guarded call runs.

pybreaker (which the cache Redis uses, shelf/backend.py) runs every call inside the breaker's
lock, so with gthread workers the threads of a process would take turns, and a hung server
would make each of them queue behind the one waiting out its timeout (danielfm/pybreaker#3,
#40, #57, #77 proposed removing it; none was merged). Here the lock covers only the state.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

logger = logging.getLogger("shelf")


class Breaker:
    """Open after one failure: callers are refused for `reset()` seconds, then one probes."""

    def __init__(self, name: str, reset: Callable[[], float]) -> None:
        self.name = name
        self._reset = reset  # a callable, so that tests' settings overrides apply
        self._failed_at: float | None = None
        self._lock = threading.Lock()

    def is_open(self) -> bool:
        failed_at = self._failed_at
        return failed_at is not None and time.monotonic() - failed_at < self._reset()

    def allow(self) -> bool:
        """Whether to try the server now: closed, or this caller is the one probe after the
        interval (the others keep being refused until the probe has its answer)."""
        with self._lock:
            if self._failed_at is None:
                return True
            now = time.monotonic()
            if now - self._failed_at < self._reset():
                return False
            self._failed_at = now
            return True

    def failed(self) -> None:
        with self._lock:
            if self._failed_at is None:
                logger.warning("%s breaker open", self.name, extra={"breaker": self.name})
            self._failed_at = time.monotonic()

    def succeeded(self) -> None:
        if self._failed_at is None:
            return  # the common case, without the lock
        with self._lock:
            if self._failed_at is not None:
                logger.warning("%s breaker closed", self.name, extra={"breaker": self.name})
            self._failed_at = None

    def reset(self) -> None:
        """Close, forgetting any failure (for tests: an earlier test's outage owes nothing)."""
        with self._lock:
            self._failed_at = None
