"""The inventory app's shelf entries: units on hand per product, apart from the product entry
so that a sale never invalidates the product.

Staleness: none after the commit of a change. Every commit that changes stock (a reservation,
a release, an admin's edit) bumps the entry's tag and writes the committed level through
(`stock_refresh`); a bump that cannot reach Redis waits in the outbox (shelf/outbox.py). So the
entry is exact without expiring: its TTL only bounds a write that was lost anyway, and a reader
never reloads it early, takes a refresh lock or talks to the broker. Decisions (can this order
be placed?) are never taken from here, only from PostgreSQL.
"""

from collections.abc import Iterable

import shelf

from .models import Stock

LOW_STOCK = 10


# The seed's tiers (in stock 1 minute, low 10 seconds, out 5 minutes) bounded how stale a badge
# could be when a TTL was all that refreshed it. Written through on every change, the entry needs
# no such bound: these are backstops, one per tier, past which an entry is a miss.
BACKSTOP_TTL = {"in": 3600, "low": 600, "out": 3600}


def _stock_ttl(quantity: int | None) -> int:
    if not quantity:
        return BACKSTOP_TTL["out"]
    return BACKSTOP_TTL["low"] if quantity < LOW_STOCK else BACKSTOP_TTL["in"]


def _load(product_ids: list[int]) -> dict[int, int]:
    """Units on hand per product: its own, and those of its active variants (a product with
    variants is sold through them, and holds none itself)."""
    # Two index scans in one statement. One filter with OR across the join could use neither
    # index: at 98,000 products each load was a parallel scan of every stock row (about 200
    # ms, against 0.2). UNION, not UNION ALL: a variant asked for with its parent is one row.
    fields = ("product_id", "product__parent_id", "quantity")
    own = Stock.objects.filter(product_id__in=product_ids).values_list(*fields)
    of_variants = Stock.objects.filter(
        product__parent_id__in=product_ids, product__is_active=True
    ).values_list(*fields)
    rows = own.union(of_variants)
    units = dict.fromkeys(product_ids, 0)
    for product_id, parent_id, quantity in rows:
        if product_id in units:
            units[product_id] += quantity
        if parent_id in units:
            units[parent_id] += quantity
    return units


STOCK = shelf.Namespace(
    "inventory.stock",
    schema=1,
    ttl=_stock_ttl,
    key_tags=lambda pid: (f"stock:{pid}",),
    # How long a reader waits for another caller's load before loading itself. The load is
    # one primary-key query, and during a run of sales of one product the entry another
    # caller stores is often outdated by the next sale before it lands, so waiting the
    # default 2 s only delays the order confirmation page (measured: 2 s stalls in 3 of 20
    # bursts of 50 checkouts). A quarter second still folds a burst of readers into one load.
    wait=0.25,
    early_refresh=False,
)


def stock_request(product_ids: list[int]) -> shelf.Request:
    """The read of these products' stock, to ride along another read (see shelf.fetch_with)."""
    return shelf.Request(STOCK, list(dict.fromkeys(product_ids)), _load)


def stock_get_many(product_ids: list[int]) -> dict[int, int]:
    return shelf.fetch_many(STOCK, product_ids, _load)


def stock_refresh(product_ids: list[int], parent_ids: Iterable[int | None] = ()) -> None:
    """After the commit, invalidate these entries and load them again (write-through), so the
    next page view finds the committed levels instead of a miss. `parent_ids`: the products
    these are variants of, whose entries sum theirs."""
    ids = sorted(set(product_ids) | {p for p in parent_ids if p is not None})
    shelf.bump_on_commit(*(f"stock:{pid}" for pid in ids), then=lambda: stock_get_many(ids))
