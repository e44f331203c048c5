"""Load the shelf ahead of shoppers: what each app names in its warm plan."""

import time
from functools import partial

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from shelf.warming import shelf_warm, warm_plan


class Command(BaseCommand):
    help = (
        "Warm the display shelf: home page, first page of every category, popular products, "
        "first results page of the top search queries."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--products", type=int, default=500, help="How many popular products (default 500)."
        )
        parser.add_argument(
            "--queries",
            type=int,
            default=None,
            help="How many top search queries (default SEARCH_POPULAR_QUERIES).",
        )

    def handle(self, *args, products: int, queries: int | None, **options) -> None:
        started = time.monotonic()
        progress = partial(tqdm, desc="warming", unit="entry", disable=None)
        done = shelf_warm(warm_plan(products, queries), progress)
        kinds = ", ".join(f"{label} {n}" for label, n in done["kinds"].items())
        self.stdout.write(
            f"Warmed {done['entries']} entries ({kinds}; {done['loaded']} loaded from "
            f"PostgreSQL, the rest were already on the shelf) in "
            f"{time.monotonic() - started:.1f} s."
        )
