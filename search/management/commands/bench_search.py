"""manage.py bench_search: p50/p95 latency of uncached and cached search, through the views.

Run it through `make bench-search`, which builds a scratch 100,000-product catalog first. Each
round requests every query's results page and API response twice: once right after expiring
every search entry (the search SQL runs; product cards and stock come from a shelf warmed by
an unmeasured first pass) and once more (a hit). Requests go through Django's test client in
this process: no network or HTTP server is measured, the views and both stores are.
"""

import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from catalog.models import Product
from search import cache
from shelf import backend
from shelf.percentiles import percentile

# Fifty queries a shopper of the demo catalog might type: words, pairs, brands, prefixes,
# typos, websearch syntax, and filters and sorts.
QUERIES: list[dict[str, str]] = [
    *({"q": q} for q in (
        "laptop", "phone", "headphones", "shoes", "watch", "tablet", "monitor", "keyboard",
        "earbuds", "speaker", "smartwatch", "charger", "blender", "vacuum", "lamp", "bike",
        "tent", "backpack", "sneakers", "boots", "jacket", "puzzle", "drone", "cookbook",
        "novel", "gaming laptop", "wireless earbuds", "noise cancelling headphones",
        "running shoes", "coffee machine", "power bank", "usb-c charger", "mechanical keyboard",
        "hiking boots", "board game", "travel guide", "teddy bear", "nordvik", "basswell",
        "lapt", "headph", "labtop", "headphnes", "smartwach", '"noise cancelling" -earbuds',
        "laptop or tablet",
    )),
    {"q": "laptop", "sort": "price"},
    {"q": "headphones", "max_price": "100"},
    {"q": "running shoes", "in_stock": "1"},
    {"q": "phone", "category": "smartphones", "sort": "rating"},
]  # fmt: skip


class Command(BaseCommand):
    help = "Measure p50/p95 latency of uncached and cached search over 50 realistic queries."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rounds", type=int, default=3, help="Rounds over the 50 queries.")
        parser.add_argument("--output", type=Path, help="Write a Markdown report here.")
        parser.add_argument("--seed-summary", default="", help="seed_catalog's summary line.")
        parser.add_argument("--command", default="", help="The command line to quote.")

    def handle(self, *args, rounds: int, output: Path | None, **options) -> None:
        if not backend.available():
            raise CommandError("The cache Redis is not available: nothing to compare.")
        products = Product.objects.filter(is_active=True).count()
        client = Client(SERVER_NAME="localhost")
        urls = {
            kind: [f"{path}?{urlencode(params)}" for params in QUERIES]
            for kind, path in (("page", "/search/"), ("api", "/api/v1/search"))
        }
        load = os.getloadavg()
        for url in urls["page"]:  # fill the product and stock entries the pages show
            self._get(client, url)
        samples: dict[tuple[str, str], list[float]] = {}
        per_query: dict[str, list[float]] = {}
        cached_sql = 0
        for _round in range(rounds):
            for kind, kind_urls in urls.items():
                for url in kind_urls:
                    cache.invalidate_results()  # no transaction here: bumped at once
                    elapsed = self._get(client, url)
                    samples.setdefault((kind, "uncached"), []).append(elapsed)
                    per_query.setdefault(url.partition("?")[2], []).append(elapsed)
                    with CaptureQueriesContext(connection) as queries:
                        samples.setdefault((kind, "cached"), []).append(self._get(client, url))
                    cached_sql += len(queries)
        slowest = sorted(per_query.items(), key=lambda kv: -statistics.median(kv[1]))[:5]
        report = self._report(samples, slowest, products, rounds, cached_sql, load, options)
        self.stdout.write(report)
        if output is not None:
            # Keep a hand-written "## Notes" section of an earlier report.
            earlier = output.read_text() if output.exists() else ""
            notes = earlier[earlier.find("\n## Notes") :] if "\n## Notes" in earlier else ""
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(report + notes)
            self.stdout.write(f"Wrote {output}.")

    def _get(self, client: Client, url: str) -> float:
        started = time.perf_counter()
        response = client.get(url)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise CommandError(f"{url} answered {response.status_code}")
        return elapsed

    def _report(self, samples, slowest, products, rounds, cached_sql, load, options) -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            postgres = cursor.fetchone()[0]
        command = options["command"] or " ".join(sys.argv)
        lines = [
            "# Search benchmark",
            "",
            f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with:",
            "",
            "```",
            command,
            "```",
            "",
            f"- Catalog: {products:,} active products (`seed_catalog --products 100000`, "
            "seed 42), scratch database and Redis database.",
            f"- {len(QUERIES)} queries (search/management/commands/bench_search.py) x {rounds} "
            f"rounds = {len(QUERIES) * rounds} samples per cell.",
            f"- Machine: `nproc` = {os.cpu_count()}, load average {load[0]:.1f} at the start "
            f"and {os.getloadavg()[0]:.1f} at the end; Python {platform.python_version()}, "
            f"PostgreSQL {postgres}, PostgreSQL and Redis on the same host.",
        ]
        if options["seed_summary"]:
            lines.append(f"- seed_catalog (with the search trigger): {options['seed_summary']}")
        lines += [
            "",
            "Milliseconds per request, through Django's test client (views, template, both "
            "stores; no HTTP server). *Uncached*: every search entry expired just before the "
            "request, so the search SQL runs; product cards and stock badges come from the "
            "shelf. *Cached*: the same request again.",
            "",
            "| Request | Uncached p50 | Uncached p95 | Cached p50 | Cached p95 |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for kind, label in (("page", "`/search/?q=...` (HTML)"), ("api", "`/api/v1/search`")):
            cells = [
                f"{percentile(samples[(kind, state)], pct):.1f}"
                for state in ("uncached", "cached")
                for pct in (50, 95)
            ]
            lines.append(f"| {label} | {' | '.join(cells)} |")
        lines += [
            "",
            f"SQL queries run by all cached requests together: {cached_sql}.",
            "",
            "Slowest queries uncached (median of the page and API requests, ms): "
            + "; ".join(f"`{q}` {statistics.median(ms):.0f}" for q, ms in slowest)
            + ".",
            "",
        ]
        return "\n".join(lines)
