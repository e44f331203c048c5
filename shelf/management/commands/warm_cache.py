"""Load the shelf ahead of shoppers: what each app names in its warm plan, up to the budget."""

import time

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from shelf.warming import shelf_warm, warm_plan


class Command(BaseCommand):
    help = (
        "Warm the display shelf in popularity order: home page, first page of every category, "
        "first results page of the top search queries, then product cards and pages (most "
        "viewed first, then top rated) until the cache Redis holds SHELF_WARM_BUDGET of its "
        "maxmemory. Entries already on the shelf are skipped, so a second run continues where "
        "an interrupted one stopped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--products",
            type=int,
            default=None,
            help="At most this many products (default: every active one the budget allows).",
        )
        parser.add_argument(
            "--queries",
            type=int,
            default=None,
            help="How many top search queries (default SEARCH_POPULAR_QUERIES).",
        )
        parser.add_argument(
            "--jobs", type=int, default=1, help="Processes loading in parallel (default 1)."
        )

    def handle(self, *args, products: int | None, queries: int | None, jobs: int, **options):
        started = time.monotonic()
        plan = warm_plan(products, queries)
        # tqdm writes to stderr and turns itself off when that is not a terminal.
        with tqdm(total=len(plan), desc="warming", unit=" entries", disable=None) as bar:
            done = shelf_warm(plan, lambda n, _total: bar.update(n - bar.n), jobs=max(1, jobs))
        if done["budget"] is None:
            limit = "the cache Redis has no maxmemory, so the whole plan was the limit"
        else:
            reached = " (reached: the rest waits for shoppers)" if done["stopped_at_budget"] else ""
            limit = (
                f"{done['used_memory'] / 2**20:,.0f} MiB used of a "
                f"{done['budget'] / 2**20:,.0f} MiB budget{reached}"
            )
        kinds = ", ".join(f"{label} {n}" for label, n in done["kinds"].items())
        self.stdout.write(
            f"Warmed {done['handled']:,} of {done['entries']:,} entries ({kinds}; "
            f"{done['loaded']:,} loaded from PostgreSQL, the rest were already on the shelf; "
            f"{limit}) in {time.monotonic() - started:.1f} s."
        )
