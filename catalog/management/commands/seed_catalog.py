"""manage.py seed_catalog: load a deterministic demo catalog (see catalog.demo)."""

import sys
import time

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from catalog import demo


class Command(BaseCommand):
    help = (
        "Load a deterministic demo catalog (categories, products, stock, images) with COPY. "
        "The same --seed always gives the same catalog."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--products", type=int, required=True, help="number of products to create"
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=demo.DEFAULT_SEED,
            help=f"random seed (default {demo.DEFAULT_SEED})",
        )
        parser.add_argument(
            "--no-variants",
            action="store_false",
            dest="variants",
            help="give no product variants (sizes, colours, storage: catalog.demo_variants)",
        )
        existing = parser.add_mutually_exclusive_group()
        existing.add_argument(
            "--if-empty",
            action="store_true",
            help="do nothing (and exit 0) when the catalog already holds data",
        )
        existing.add_argument(
            "--replace",
            action="store_true",
            help="delete the existing catalog (images, stock, products, categories) first",
        )

    def handle(self, *args: object, **options: object) -> None:
        count = options["products"]
        if not isinstance(count, int) or count < 0:
            raise CommandError("--products must be zero or more")
        if options["if_empty"] and options["replace"]:
            # argparse enforces this on the command line; call_command() skips that check.
            raise CommandError("--if-empty and --replace cannot be used together")
        # tqdm writes to stderr and turns itself off when stderr is not a terminal.
        with tqdm(
            total=count, unit=" products", file=sys.stderr, disable=None, mininterval=0.5
        ) as bar:
            try:
                summary = demo.seed_catalog(
                    count,
                    options["seed"],
                    replace=bool(options["replace"]),
                    progress=bar.update,
                    with_variants=options.get("variants", True),
                )
            except demo.CatalogNotEmptyError as exc:
                if options["if_empty"]:
                    self.stdout.write(f"Nothing to do: {exc}; leaving it as it is.")
                    return
                raise CommandError(
                    f"Refusing to seed: {exc}. Pass --replace to delete it and load the demo "
                    "catalog, or --if-empty to leave existing data alone and exit quietly."
                ) from exc
            except demo.CatalogInUseError as exc:
                raise CommandError(str(exc)) from exc
        if summary.replaced_products:
            self.stdout.write(f"Replaced {summary.replaced_products:,} existing products.")
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {summary.products:,} products ({summary.variants:,} variants of them "
                f"besides), {summary.images:,} images, "
                f"{summary.reviews:,} reviews and {summary.categories} categories "
                f"({summary.departments} departments) "
                f"in {summary.seconds:.1f} s "
                f"(seed {options['seed']}; {summary.out_of_stock:,} out of stock, "
                f"{summary.low_stock:,} low)."
            )
        )
        started = time.perf_counter()
        if summary.replaced_products and demo.vacuum_catalog():
            self.stdout.write(
                f"Vacuumed the replaced rows in {time.perf_counter() - started:.1f} s."
            )
