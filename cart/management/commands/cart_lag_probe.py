"""Measure the write-behind lag: cart change to committed PostgreSQL row, with the running
worker and beat (start them first, e.g. with `make run`)."""

import time

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cart import services, store
from cart.models import Cart
from catalog.models import Product
from shelf.percentiles import percentile


class Command(BaseCommand):
    help = (
        "Change probe carts for a while and report how long each change took to reach PostgreSQL."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seconds", type=float, default=30.0)
        parser.add_argument("--rate", type=float, default=20.0, help="Cart changes per second.")
        parser.add_argument("--carts", type=int, default=50)

    def handle(self, *args, seconds: float, rate: float, carts: int, **options) -> None:
        product_ids = list(Product.objects.filter(is_active=True).values_list("pk", flat=True)[:20])
        if not product_ids:
            raise CommandError("No products: run seed_catalog first.")
        owners = [f"s:lag-probe-{i}" for i in range(carts)]
        pending: dict[str, tuple[int, float]] = {}  # owner -> (version, changed at)
        lags: list[float] = []
        deadline = time.monotonic() + seconds
        n = 0
        try:
            while time.monotonic() < deadline or pending:
                if time.monotonic() < deadline:
                    owner = owners[n % carts]
                    services.cart_load(owner)
                    store.add(owner, product_ids[n % len(product_ids)], 1, store.MAX_QUANTITY)
                    pending[owner] = (store.read(owner)[store.VERSION], time.time())
                    n += 1
                synced = dict(
                    Cart.objects.filter(owner__in=list(pending)).values_list("owner", "version")
                )
                for owner, (version, changed_at) in list(pending.items()):
                    if synced.get(owner, -1) >= version:
                        lags.append(time.time() - changed_at)
                        del pending[owner]
                if time.monotonic() > deadline + 60:
                    raise CommandError(
                        f"{len(pending)} changes not synced after 60 s: is a worker running?"
                    )
                time.sleep(1 / rate)
        finally:
            for owner in owners:
                store.delete(owner)
            Cart.objects.filter(owner__in=owners).delete()
        p50, p95, p99 = (percentile(lags, pct) for pct in (50, 95, 99))
        self.stdout.write(
            f"{n} cart changes, {len(lags)} observed in PostgreSQL: sync lag p50 {p50:.2f} s, "
            f"p95 {p95:.2f} s, p99 {p99:.2f} s, max {max(lags):.2f} s"
        )
