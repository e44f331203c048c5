"""Freshness across processes: a request that starts after an admin save has returned never
sees the old value, in any worker of any gunicorn process.

Two gunicorn processes of WEB_CONCURRENCY=2 workers each serve the product page from the test
database and the test Redis. Each round saves something the product page shows, the way the
admin does (`save()` in `transaction.atomic()`, the tags bumped after commit): every tenth round
a new price (the page itself is rebuilt), the others a new stock level (the page stays, its
stock entry is written through). Then it reads the page from every worker of both processes:
every read must show the new value. A cache that a worker keeps in its own memory (the shelf's
L1, in front of Redis) must therefore be invalidated before the save's response can be read.

A round reads in two steps: one request, a different worker's each round, rebuilds the page the
save expired; then every worker gets READS_PER_WORKER requests at once. (All at once from the
start, the requests that lose the rebuild's lock poll for its result, 5 to 50 ms apart: a round
took half as long again, for the same reads.)

Figures (rounds, reads, timings) are printed with -s.
"""

import http.client
import re
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connection, transaction

from shelf.tests.servers import Gunicorn, database_url_for, gunicorn_server, wait_until

from .factories import ProductFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ROUNDS = 1000
WORKERS = 2  # per gunicorn process (WEB_CONCURRENCY)
# Connections held by each worker, each read once a round: two threads of a worker read its
# memory at once. As many as it has threads (4) took twice as long a round on a loaded 2-CPU
# machine (measured: reads 119 ms against 54 ms a round), and CI's time is short.
READS_PER_WORKER = 2
PRICE = re.compile(r'<p class="price big">\$([0-9.,]+)</p>')
# The product's own badge, the first after its price (related products' badges come later).
UNITS = re.compile(r'<p class="price big">.*?Only (\d+) left', re.S)
PRICE_EVERY = 10
BOOTED = re.compile(r"Booting worker with pid: (\d+)")


class Reader:
    """One keep-alive connection to a gunicorn, so it stays with the worker that accepted it."""

    def __init__(self, server: Gunicorn, path: str) -> None:
        self.path = path
        self.connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)

    def read(self) -> tuple[int, tuple[Decimal, int]]:
        """(pid of the worker that answered, (price, units left) the page shows) of one GET."""
        for attempt in range(2):
            try:
                self.connection.request("GET", self.path)
                response = self.connection.getresponse()
                body = response.read().decode()
                break
            except (OSError, http.client.HTTPException):
                # Closed while idle (keep-alive timeout): a new connection, maybe to another
                # worker; the round then reads again until every worker has answered.
                self.connection.close()
                if attempt:
                    raise
        assert response.status == 200, (response.status, body[:500])
        price, units = PRICE.search(body), UNITS.search(body)
        assert price and units, body[:2000]
        shown = (Decimal(price[1].replace(",", "")), int(units[1]))
        return int(response.getheader("X-Shelf-Worker")), shown

    def close(self) -> None:
        self.connection.close()


def _worker_pids(server: Gunicorn) -> set[int]:
    assert wait_until(lambda: server.workers_booted() == WORKERS, 30, 0.1, server.process)
    return {int(pid) for pid in BOOTED.findall(server.log_text())}


def _readers_for(
    server: Gunicorn, path: str, pids: set[int], pool: ThreadPoolExecutor
) -> list[Reader]:
    """READS_PER_WORKER connections held by each worker of `server`.

    Opened a batch at a time, so that the workers race to accept them; a connection that went
    to a worker with enough already is closed and another one is tried.
    """
    wanted = dict.fromkeys(pids, READS_PER_WORKER)
    kept: list[Reader] = []
    deadline = time.monotonic() + 30
    while any(wanted.values()) and time.monotonic() < deadline:
        batch = [Reader(server, path) for _ in range(sum(wanted.values()))]
        for reader, (pid, _) in zip(batch, pool.map(Reader.read, batch), strict=True):
            assert pid in pids, f"pid {pid} is not a worker of {server.url}"
            if wanted[pid]:
                wanted[pid] -= 1
                kept.append(reader)
            else:
                reader.close()
    assert not any(wanted.values()), f"workers without their connections: {wanted}"
    return kept


def test_an_admin_save_is_visible_at_once_in_every_worker_of_every_process():
    product = ProductFactory(price=Decimal("99.99"), stock__quantity=9)
    stock = product.stock
    path = product.get_absolute_url()
    database_url = database_url_for(connection.settings_dict["NAME"])
    with (
        gunicorn_server(database_url, WEB_CONCURRENCY=str(WORKERS), TEST_WORKER_HEADER="1") as a,
        gunicorn_server(database_url, WEB_CONCURRENCY=str(WORKERS), TEST_WORKER_HEADER="1") as b,
    ):
        pids = _worker_pids(a) | _worker_pids(b)
        assert len(pids) == 2 * WORKERS, pids
        slots = 2 * WORKERS * READS_PER_WORKER
        with ThreadPoolExecutor(slots) as pool:
            readers = _readers_for(a, path, _worker_pids(a), pool)
            readers += _readers_for(b, path, _worker_pids(b), pool)
            # Warm: every worker serves the page a few times (from two threads at once), so a
            # worker that keeps pages in its own memory holds this one before the first save.
            for _ in range(3):
                shown = set(pool.map(Reader.read, readers))
                assert shown == {(pid, (product.price, 9)) for pid in pids}, shown

            stale: list[tuple[int, int, Decimal, Decimal]] = []
            missed: list[int] = []
            reads = 0
            saving = reading = 0.0
            started = time.monotonic()
            for n in range(ROUNDS):
                t0 = time.monotonic()
                with transaction.atomic():  # as the admin's change view saves
                    if n % PRICE_EVERY == 0:
                        product.price = Decimal("100.00") + Decimal(n) / 100
                        product.save()
                    else:
                        stock.quantity = 1 + n % 9  # never the previous round's
                        stock.save()
                t1 = time.monotonic()
                new = (product.price, stock.quantity)
                # Every read below starts after the save returned: each must show `new`.
                answered: set[int] = set()
                for _ in range(5):
                    first = [readers[n % len(readers)].read()] if not answered else []
                    for pid, price in first + list(pool.map(Reader.read, readers)):
                        reads += 1
                        answered.add(pid)
                        if price != new:
                            stale.append((n, pid, price, new))
                    if answered == pids:
                        break
                if answered != pids:
                    missed.append(n)
                saving += t1 - t0
                reading += time.monotonic() - t1
            took = time.monotonic() - started
            for reader in readers:
                reader.close()
        print(
            f"\nfreshness: {ROUNDS} rounds, {reads} reads from {len(pids)} workers in 2 "
            f"processes, {len(stale)} stale, {took:.1f} s (per round: save "
            f"{1000 * saving / ROUNDS:.1f} ms, reads {1000 * reading / ROUNDS:.1f} ms)"
        )
        assert a.workers_booted() == WORKERS and b.workers_booted() == WORKERS, "a worker restarted"

    assert not missed, f"{len(missed)} rounds did not reach every worker, first {missed[:5]}"
    assert not stale, (
        f"{len(stale)} stale reads in {len({s[0] for s in stale})} rounds; first (round, pid, "
        f"shown, saved): {stale[:5]}"
    )
