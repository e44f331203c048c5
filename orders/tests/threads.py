"""Concurrent checkouts: threads released at once, each outcome recorded, none failing quietly."""

import threading
from collections.abc import Callable

from django.db import connection

from orders import services


def _outcome(work: Callable[[int], str], i: int) -> tuple[str, str]:
    try:
        return ("ok", work(i))
    except services.ItemsUnavailable as exc:
        return ("refused", str(exc))
    except Exception as exc:  # recorded and asserted on: a thread must not fail quietly
        return ("error", repr(exc))


def run_threads(count: int, work, timeout: float = 60) -> list[tuple[str, str]]:
    """Run `work(i)` in `count` threads released at once; return (outcome, detail) of each.

    Each thread closes its database connection as soon as its work is done: the shared
    PostgreSQL allows 100 connections for every test run on the machine."""
    with Crew(count, keep_connections=False) as crew:
        return crew.run(work, timeout)


class Crew:
    """`count` threads that run rounds of work together, each round released at once.

    The threads outlive a round, and with `keep_connections` so do their database connections
    (Django gives one per thread): opening fifty connections took longer than the fifty
    checkouts of a round.
    """

    def __init__(self, count: int, keep_connections: bool = True) -> None:
        self.count = count
        self._keep = keep_connections
        self._start = threading.Barrier(count + 1)
        self._end = threading.Barrier(count + 1)
        self._work: Callable[[int], str] | None = None
        self._results: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._loop, args=(i,), daemon=True) for i in range(count)
        ]
        for t in self._threads:
            t.start()

    def _loop(self, i: int) -> None:
        try:
            while True:
                self._start.wait()
                work = self._work
                if work is None:
                    return
                outcome = _outcome(work, i)
                if not self._keep:
                    connection.close()
                with self._lock:
                    self._results.append(outcome)
                self._end.wait()
        except threading.BrokenBarrierError:
            return  # the round timed out: the test fails on it
        finally:
            connection.close()

    def run(self, work: Callable[[int], str], timeout: float = 60) -> list[tuple[str, str]]:
        """Run `work(i)` in every thread at once; return (outcome, detail) of each."""
        self._work, self._results = work, []
        self._start.wait(timeout)
        try:
            self._end.wait(timeout)
        except threading.BrokenBarrierError:
            self._start.abort()
            raise AssertionError("a checkout hung") from None
        return list(self._results)

    def close(self) -> None:
        self._work = None
        self._start.wait(10)
        for t in self._threads:
            t.join(10)
        assert not any(t.is_alive() for t in self._threads), "a checkout hung"

    def __enter__(self) -> "Crew":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
