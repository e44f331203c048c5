"""Load the shelf ahead of shoppers: what each app names in its warm plan."""

import time
from collections import Counter

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from catalog.services import catalog_warm_plan
from search.services import search_warm_plan
from shop.shelf import stats


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
        plan = catalog_warm_plan(products) + search_warm_plan(queries)
        loads_before = _loads()
        for _label, warm in tqdm(plan, desc="warming", unit="entry", disable=None):
            warm()
        stats.maybe_flush(force=True)
        loaded = _loads() - loads_before
        kinds = ", ".join(f"{label} {n}" for label, n in Counter(lb for lb, _ in plan).items())
        self.stdout.write(
            f"Warmed {len(plan)} entries ({kinds}; {loaded} loaded from PostgreSQL, the rest "
            f"were already on the shelf) in {time.monotonic() - started:.1f} s."
        )


def _loads() -> int:
    return sum(n for field, n in stats.read_totals().items() if field.endswith(":load"))
