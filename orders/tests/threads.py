"""Concurrent checkouts: threads released at once, each outcome recorded, none failing quietly."""

import threading

from django.db import connection

from orders import services


def run_threads(count: int, work, timeout: float = 60) -> list[tuple[str, str]]:
    """Run `work(i)` in `count` threads released at once; return (outcome, detail) of each."""
    barrier = threading.Barrier(count)
    results: list[tuple[str, str]] = []

    def one(i: int) -> None:
        try:
            barrier.wait()
            results.append(("ok", work(i)))
        except services.ItemsUnavailable as exc:
            results.append(("refused", str(exc)))
        except Exception as exc:  # recorded and asserted on: a thread must not fail quietly
            results.append(("error", repr(exc)))
        finally:
            connection.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), "a checkout hung"
    return results
