"""A circuit breaker that never holds a lock while the guarded call runs, shared by the host.

pybreaker (which the cache Redis uses, shelf/backend.py) runs every call inside the breaker's
lock, so with gthread workers the threads of a process would take turns, and a hung server
would make each of them queue behind the one waiting out its timeout (danielfm/pybreaker#3,
#40, #57, #77 proposed removing it; none was merged). Here the lock covers only the state.

When it opens, every process of the host that uses the same server sees it open too
(shelf/hostflag.py): they skip the server without paying a timeout each. When the interval is
over, one process probes for all of them (it marks the breaker opened again while it tries);
its success closes the breaker everywhere, its failure keeps it open.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from shelf.hostflag import HostFlag

logger = logging.getLogger("shelf")


class Breaker:
    """Open after one failure: callers are refused for `reset()` seconds, then one probes."""

    def __init__(self, name: str, reset: Callable[[], float], server: Callable[[], object]) -> None:
        self.name = name
        self._reset = reset  # a callable, so that tests' settings overrides apply
        self._failed_at: float | None = None
        self._host = HostFlag(name, server)
        self._lock = threading.Lock()

    def _last_failure(self) -> float | None:
        """The later of this process's failure and the host's."""
        failed_at, host = self._failed_at, self._host.opened_at()
        if host and (failed_at is None or host > failed_at):
            return host
        return failed_at

    def is_closed(self) -> bool:
        """No failure since the last success, here or on the host."""
        return self._last_failure() is None

    def is_open(self) -> bool:
        failed_at = self._last_failure()
        return failed_at is not None and time.monotonic() - failed_at < self._reset()

    def allow(self) -> bool:
        """Whether to try the server now: closed, or this caller is the one probe after the
        interval (the others, in every process, keep being refused until it has its answer)."""
        with self._lock:
            failed_at = self._last_failure()
            if failed_at is None:
                return True
            now = time.monotonic()
            if now - failed_at < self._reset():
                return False
            self._failed_at = now
            self._host.open(now)
            return True

    def failed(self) -> None:
        with self._lock:
            if self._failed_at is None:
                logger.warning("%s breaker open", self.name, extra={"breaker": self.name})
            self._failed_at = time.monotonic()
            self._host.open(self._failed_at)

    def succeeded(self) -> None:
        if self._failed_at is None and not self._host.opened_at():
            return  # the common case, without the lock
        with self._lock:
            if self._failed_at is not None:
                logger.warning("%s breaker closed", self.name, extra={"breaker": self.name})
            self._failed_at = None
            self._host.close()

    def reset(self) -> None:
        """Close, forgetting any failure (for tests: an earlier test's outage owes nothing)."""
        with self._lock:
            self._failed_at = None
            self._host.close()
