"""manage.py top_queries: the most searched queries of the last 24 hours."""

from django.core.management.base import BaseCommand, CommandParser

from search.services import search_queries_top


class Command(BaseCommand):
    help = "Print the N most searched queries of the last 24 hours with their counts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "-n", "--limit", type=int, default=20, help="How many queries (default 20)."
        )

    def handle(self, *args, limit: int, **options) -> None:
        top = search_queries_top(max(1, limit))
        if not top:
            self.stdout.write("No searches counted in the last 24 hours.")
            return
        width = max(len(f"{count:,}") for _, count in top)
        for rank, (query, count) in enumerate(top, start=1):
            self.stdout.write(f"{rank:>4}. {count:>{width},}  {query}")
