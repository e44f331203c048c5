"""How long after an admin's save each gunicorn worker still serves the old price.

Run by bench/run.py after the ceiling phases, with the bench settings, against the shelf-on
gunicorn:

    python -m bench.staleness --port 8201 --workload .local/bench/workload.json --out s.json

Readers (`--readers` threads, a new connection per request, so that every worker gets some)
read the most popular product's page over and over and note when each read started and ended,
which worker answered (`X-Shelf-Worker`) and the price it showed. Meanwhile, `--rounds` times,
this process changes that product's price as the admin does (`save()` inside
`transaction.atomic()`: the receivers bump the shelf's tags once the commit is done) and waits
until every worker has shown the new price. Prices only go up, a cent a round, so a read is
stale when it shows less than the price of the last commit that returned before the read
started. The price is put back at the end.
"""

from __future__ import annotations

import argparse
import bisect
import http.client
import json
import os
import re
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.bench")
django.setup()

from django.db import transaction  # noqa: E402

from bench.workload import Catalog  # noqa: E402
from catalog.models import Product  # noqa: E402

HOST = "127.0.0.1"
PRICE = re.compile(rb'class="price big">\$([0-9.,]+)<')
CENT = Decimal("0.01")
# A worker that has not shown a new price after this long ends the round as a timeout.
ROUND_TIMEOUT = 10.0


class Readers:
    """Threads that read one page until stopped; every read is kept as
    (started, ended, worker pid, price shown), in the order they ended; a failed read or a
    page without a price is counted in `errors` (and kept with the price None)."""

    def __init__(self, port: int, path: str, count: int) -> None:
        self.port, self.path = port, path
        self.reads: list[tuple[float, float, int, Decimal | None]] = []
        self.errors = 0
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._read, daemon=True) for _ in range(count)]

    def __enter__(self) -> Readers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join()

    def _read(self) -> None:
        while not self.stopping.is_set():
            started = time.monotonic()
            connection = http.client.HTTPConnection(HOST, self.port, timeout=10)
            try:
                connection.request("GET", self.path)
                response = connection.getresponse()
                body = response.read()
                pid = int(response.getheader("X-Shelf-Worker") or 0)
            except OSError:
                self.errors += 1
                continue
            finally:
                connection.close()
            found = PRICE.search(body) if response.status == 200 else None
            price = Decimal(found.group(1).decode().replace(",", "")) if found else None
            if price is None:
                self.errors += 1
            # list.append is atomic: the main thread reads the list while this one grows it.
            self.reads.append((started, time.monotonic(), pid, price))


def workers_find(readers: Readers, workers: int, timeout: float = 20.0) -> set[int]:
    deadline = time.monotonic() + timeout
    pids: set[int] = set()
    while time.monotonic() < deadline:
        pids = {pid for _, _, pid, _ in readers.reads if pid}
        if len(pids) >= workers:
            return pids
        time.sleep(0.05)
    raise SystemExit(f"staleness: only {len(pids)} of {workers} workers answered")


def price_save(product: Product, price: Decimal) -> float:
    """Save the new price as the admin does; return the time right after the commit."""
    product.price = price
    with transaction.atomic():
        product.save()
    return time.monotonic()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="the shelf-on gunicorn")
    parser.add_argument("--workload", type=Path, required=True, help="bench/prepare.py's file")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2, help="the gunicorn's worker count")
    parser.add_argument("--readers", type=int, default=4)
    args = parser.parse_args(argv)
    began = time.monotonic()
    product_id, slug = Catalog.load(args.workload).products[0]
    product = Product.objects.get(pk=product_id)
    original = product.price
    commits: list[tuple[float, Decimal]] = []
    rounds: list[dict] = []
    try:
        with Readers(args.port, f"/p/{slug}/", args.readers) as readers:
            workers = workers_find(readers, args.workers)
            for n in range(1, args.rounds + 1):
                price = original + n * CENT
                mark = len(readers.reads)
                committed = price_save(product, price)
                commits.append((committed, price))
                first: dict[int, float] = {}
                while len(first) < len(workers) and time.monotonic() < committed + ROUND_TIMEOUT:
                    for _, ended, pid, shown in readers.reads[mark:]:
                        if pid in workers and shown is not None and shown >= price:
                            first.setdefault(pid, ended)
                    time.sleep(0.001)
                rounds.append({
                    "fresh_ms": {str(pid): round((t - committed) * 1000, 2)
                                 for pid, t in first.items()},
                    "timed_out": len(first) < len(workers),
                })  # fmt: skip
            reads = list(readers.reads)
            errors = readers.errors
    finally:
        price_save(product, original)
    stale = stale_reads(reads, commits)
    result = {
        "product": slug,
        "workers": sorted(workers),
        "readers": args.readers,
        "rounds": rounds,
        "reads": len(reads),
        "read_errors": errors,
        "stale_after_commit": len(stale),
        "stale_examples": [
            {"started_ms_after_commit": round(late * 1000, 2), "pid": pid} for late, pid in stale
        ][:10],
        "seconds": round(time.monotonic() - began, 1),
    }
    args.out.write_text(json.dumps(result, indent=1))
    print(
        f"staleness: {len(rounds)} rounds, {len(reads):,} reads, {len(stale)} stale after the "
        f"commit returned, {result['seconds']} s"
    )
    return 0


def stale_reads(
    reads: list[tuple[float, float, int, Decimal | None]], commits: list[tuple[float, Decimal]]
) -> list[tuple[float, int]]:
    """The reads that started after a commit returned and showed a price older than it, each
    as (seconds from that commit to the read's start, worker pid). `commits` in time order;
    a read that showed no price at all is not counted here (Readers counts failures)."""
    times = [committed for committed, _ in commits]
    stale = []
    for started, _, pid, shown in reads:
        last = bisect.bisect_left(times, started) - 1
        if last >= 0 and shown is not None and shown < commits[last][1]:
            stale.append((started - times[last], pid))
    return stale


if __name__ == "__main__":
    sys.exit(main())
