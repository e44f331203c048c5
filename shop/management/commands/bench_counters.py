"""Measure what the per-namespace counters cost on the product page hit path."""

import statistics
import time

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.test import Client

from catalog.models import Product
from shelf import stats


class Command(BaseCommand):
    help = "Time warm product page hits with counters on and off, alternating, in one process."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rounds", type=int, default=10)
        parser.add_argument("--requests", type=int, default=500)

    def handle(self, *args, rounds: int, requests: int, **options) -> None:
        products = Product.objects.filter(is_active=True, parent__isnull=True)
        slugs = list(products.values_list("slug", flat=True)[:50])
        if not slugs:
            raise CommandError("No products: run seed_catalog first.")
        client = Client(SERVER_NAME="127.0.0.1")
        for slug in slugs:  # warm every page we will ask for
            client.get(f"/p/{slug}/")
        timings: dict[bool, list[float]] = {True: [], False: []}
        try:
            for i in range(rounds * 2):
                stats.enabled = i % 2 == 0
                started = time.perf_counter()
                for n in range(requests):
                    client.get(f"/p/{slugs[n % len(slugs)]}/")
                timings[stats.enabled].append((time.perf_counter() - started) / requests)
        finally:
            stats.enabled = True
        on, off = statistics.median(timings[True]), statistics.median(timings[False])
        self.stdout.write(
            f"product page hit, median per request over {rounds} alternating rounds of "
            f"{requests}: counters on {on * 1e6:.0f} us, off {off * 1e6:.0f} us, "
            f"ratio on/off {on / off:.3f}"
        )
