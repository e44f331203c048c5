"""Prepare the bench database for one run and write what the shoppers need to know.

Run by bench/run.py with the bench settings, after seed_catalog:

    python -m bench.prepare --out .local/bench/workload.json --seed 42 --accounts 200

- puts every product's stock back to what it was when the catalog was first benchmarked (a
  copy is kept in the table `bench_stock_seed`), so sales of an earlier run change nothing;
- makes sure the shopper accounts `bench-0001`... exist (password BENCH_PASSWORD) and empties
  their carts;
- signs each account in once, as `django.contrib.auth.login` would, and lists the session keys:
  the signed-in shoppers' cookies (run.py checks the real login form separately: a password
  check costs one PBKDF2 run, which would otherwise dominate a benchmark of page views);
- writes the catalog file: products in popularity order, categories, the search vocabulary.

The shelf (cache Redis) is emptied by run.py before this runs; nothing here touches it.
"""

import argparse
import os
import sys
import time
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.bench")
django.setup()

from django.contrib.auth import (  # noqa: E402
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    get_user_model,
)
from django.contrib.auth.hashers import make_password  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.workload import (  # noqa: E402
    BENCH_PASSWORD,
    Catalog,
    build_vocabulary,
    popularity_order,
)
from cart.models import Cart  # noqa: E402
from catalog import cache  # noqa: E402
from catalog.models import Category, Product  # noqa: E402
from inventory.cache import STOCK  # noqa: E402
from shelf.core import tag_key  # noqa: E402
from shop.sessions import SessionStore  # noqa: E402

BACKEND = "shop.auth.CachedModelBackend"


def stock_restore() -> int:
    """Put stock back to the copy taken at the first run; return how many rows changed."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS bench_stock_seed AS "
            "SELECT product_id, quantity FROM inventory_stock"
        )
        cursor.execute(
            "UPDATE inventory_stock s SET quantity = b.quantity FROM bench_stock_seed b "
            "WHERE b.product_id = s.product_id AND s.quantity <> b.quantity"
        )
        return cursor.rowcount


def accounts_ensure(count: int) -> list:
    User = get_user_model()
    names = [f"bench-{n:04d}" for n in range(1, count + 1)]
    existing = set(User.objects.filter(username__in=names).values_list("username", flat=True))
    if len(existing) < count:
        password = make_password(BENCH_PASSWORD)  # once: every account gets the same hash
        User.objects.bulk_create(
            [
                User(username=name, email=f"{name}@bench.example", password=password)
                for name in names
                if name not in existing
            ]
        )
    users = list(User.objects.filter(username__in=names).order_by("username"))
    Cart.objects.filter(owner__in=[f"u:{u.pk}" for u in users]).delete()
    return users


def sessions_create(users: list) -> list[str]:
    """Sign each account in as django.contrib.auth.login does (session keys, last login)."""
    User = get_user_model()
    User.objects.filter(pk__in=[u.pk for u in users]).update(last_login=timezone.now())
    keys = []
    for user in users:
        session = SessionStore()
        session[SESSION_KEY] = user._meta.pk.value_to_string(user)
        session[BACKEND_SESSION_KEY] = BACKEND
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        keys.append(session.session_key)
    return keys


def catalog_export(seed: int, sessions: list[str]) -> Catalog:
    active = Product.objects.filter(is_active=True, parent__isnull=True)  # variants: no page
    slugs = dict(active.values_list("id", "slug"))
    order = popularity_order(slugs, seed)
    vocabulary = build_vocabulary(active.values_list("name", "brand", "category__name").iterator())
    return Catalog(
        products=[(pid, slugs[pid]) for pid in order],
        categories=list(Category.objects.order_by("pk").values_list("slug", flat=True)),
        queries=vocabulary,
        sessions=sessions,
        keys={
            "product": cache.PRODUCT.key("{}"),
            "page": cache.PAGE.key("{}"),
            "version": tag_key(cache.product_tag("{}")),
            "stock": STOCK.key("{}"),
            "stock_version": tag_key("stock:{}"),
        },
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="catalog file to write")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--accounts", type=int, default=200)
    args = parser.parse_args(argv)
    started = time.monotonic()
    restocked = stock_restore()
    users = accounts_ensure(args.accounts)
    catalog = catalog_export(args.seed, sessions_create(users))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    catalog.dump(args.out)
    print(
        f"prepare: {len(catalog.products):,} products, {len(catalog.categories)} categories, "
        f"{len(catalog.queries):,} queries, {len(users)} signed-in sessions; "
        f"{restocked:,} stock rows restored; {time.monotonic() - started:.1f} s",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
