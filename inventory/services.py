"""Writes to stock: reservations taken and released. Whether an order can be placed is decided
here, from PostgreSQL only."""

import functools
from collections.abc import Mapping

import psycopg
from django.db import DataError, IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from .cache import stock_refresh
from .models import Stock
from .signals import availability_changed

# The CHECK constraint on the stock (inventory.models.Stock.Meta).
STOCK_NEVER_NEGATIVE = "stock_never_negative"


class OutOfStock(Exception):
    """Some lines could not be reserved, so none was.

    `short` maps each short product id to (units asked for, units left).
    """

    def __init__(self, short: dict[int, tuple[int, int]]) -> None:
        self.short = short
        parts = [
            f"product {pid}: {asked} asked, {left} left" for pid, (asked, left) in short.items()
        ]
        super().__init__("; ".join(parts))


def _levels(product_ids: list[int]):
    """(product id, units on hand, id of the product it is a variant of) of these rows."""
    return Stock.objects.filter(product_id__in=product_ids).values_list(
        "product_id", "quantity", "product__parent_id"
    )


def stock_reserve(lines: Mapping[int, int], *, commit: bool = False) -> None:
    """Take `lines` ({product id: units}) off the stock, all or nothing.

    Runs inside the caller's transaction and raises OutOfStock if any line is short, so that the
    caller's rollback undoes the lines already taken. Each line is one conditional UPDATE
    (`quantity = quantity - n WHERE quantity >= n`): PostgreSQL re-checks the condition on the
    newest row version after waiting for a concurrent order, so two orders can never both take
    the last unit, and the CHECK constraint backs that up. Rows are taken in primary-key order,
    so two orders sharing products always lock them in the same order and cannot deadlock.

    `commit`: this is the last statement of the caller's outermost atomic block, and the
    COMMIT goes to PostgreSQL in the same round trip as the last UPDATE (see `_last_sql`), so
    that no Python runs while the rows are locked (issue 16: under load, a thread waited
    milliseconds for the GIL between the UPDATE's answer and sending the COMMIT). Inside a
    savepoint or a nested block it is the usual UPDATE, and the caller's block commits.
    """
    if not connection.in_atomic_block:
        raise transaction.TransactionManagementError("stock_reserve needs a transaction")
    if any(n < 1 for n in lines.values()):
        raise ValueError("Reserve at least one unit of each product.")
    now, ids, sold_out, parents = timezone.now(), sorted(lines), [], []
    outermost = len(connection.atomic_blocks) == 1 and not connection.savepoint_ids
    with connection.cursor() as cursor:
        for position, product_id in enumerate(ids):
            # RETURNING says whether this sale sold the product out, and which product it is a
            # variant of, so that nothing but the COMMIT follows the last UPDATE while its row
            # is locked (issue 16: a row is held for milliseconds; a query more would add a
            # round trip and, under load, a wait for the GIL).
            if commit and outermost and position == len(ids) - 1:
                row = _take_last_and_commit(cursor, product_id, lines[product_id], now)
            else:
                cursor.execute(
                    _reserve_sql(), [lines[product_id], now, product_id, lines[product_id]]
                )
                row = cursor.fetchone()
            if row is None:
                # Stop taking locks; read the rest only to tell the shopper every short line.
                rest = ids[position:]
                left = dict(
                    Stock.objects.filter(product_id__in=rest).values_list("product_id", "quantity")
                )
                # The line that failed is short even if a restock landed since its UPDATE.
                short = {pid: (lines[pid], left.get(pid, 0)) for pid in rest}
                raise OutOfStock(
                    {pid: v for pid, v in short.items() if pid == product_id or v[1] < v[0]}
                )
            if row[0] == 0:
                sold_out.append(product_id)
            parents.append(row[1])
    # update() sends no signals: write the new levels through to the shelf after the commit
    # (with the products these are variants of, whose levels sum theirs), and tell the catalog
    # which products sold out then too (its listings are bumped after the commit anyway, and
    # reading their categories need not hold the rows).
    stock_refresh(ids, parents)
    if sold_out:
        transaction.on_commit(lambda: availability_changed(sold_out), robust=True)


def _take_last_and_commit(cursor, product_id: int, units: int, now) -> tuple | None:
    """The last line's UPDATE and the COMMIT in one round trip; None (nothing committed, the
    transaction usable again) if the line is short."""
    try:
        cursor.execute(_last_sql(), [units, now, product_id])
    except (IntegrityError, DataError) as exc:
        cause = exc.__cause__
        short = isinstance(cause, psycopg.errors.DivisionByZero) or (
            isinstance(cause, psycopg.errors.CheckViolation)
            and cause.diag.constraint_name == STOCK_NEVER_NEGATIVE
        )
        if not short:
            raise
        # Short (the CHECK refused the decrement) or no stock row (the guard): the rest of the
        # query (RELEASE, COMMIT) was skipped. Back to before it; the caller reads the levels
        # and rolls back.
        cursor.execute("ROLLBACK TO SAVEPOINT shelf_last_line")
        return None
    cursor.nextset()  # past the SAVEPOINT's result, to the line's
    return cursor.fetchone()


@functools.cache
def _last_sql() -> str:
    """The last line's UPDATE, made to fail on the CHECK constraint when short (a conditional
    UPDATE would return no row and the COMMIT after it would still commit), inside a savepoint
    so that a short line leaves the transaction usable, then the COMMIT: several statements
    in one query, which psycopg sends with the simple query protocol, in one round trip (its
    client-side binding puts the parameters in)."""
    products = Stock._meta.get_field("product").related_model._meta.db_table
    # A product without a stock row must not be committed either: the guard divides by the
    # number of rows taken (0: division_by_zero, and the rest is skipped as for the CHECK).
    return (
        "SAVEPOINT shelf_last_line;"
        f" WITH taken AS (UPDATE {Stock._meta.db_table} AS s"
        " SET quantity = s.quantity - %s, updated_at = %s"
        f" FROM {products} AS p WHERE s.product_id = %s AND p.id = s.product_id"
        " RETURNING s.quantity, p.parent_id)"
        " SELECT t.quantity, t.parent_id, guard.one"  # guard.one: else planned away
        " FROM (SELECT 1 / (SELECT count(*) FROM taken)::int) AS guard (one)"
        " LEFT JOIN taken AS t ON true;"
        " RELEASE SAVEPOINT shelf_last_line; COMMIT"
    )


@functools.cache
def _reserve_sql() -> str:
    products = Stock._meta.get_field("product").related_model._meta.db_table
    return (
        f"UPDATE {Stock._meta.db_table} AS s SET quantity = s.quantity - %s, updated_at = %s"
        f" FROM {products} AS p WHERE s.product_id = %s AND s.quantity >= %s"
        " AND p.id = s.product_id RETURNING s.quantity, p.parent_id"
    )


def stock_release(lines: Mapping[int, int]) -> None:
    """Put `lines` ({product id: units}) back on the stock: a reservation that was not paid.

    Runs inside the caller's transaction, so that giving the units back and marking the
    reservation released commit together (a release is never applied twice). Rows are taken in
    primary-key order, as stock_reserve takes them, so a release and a reservation cannot
    deadlock. A product whose stock row is gone has nothing to give back to.
    """
    if not connection.in_atomic_block:
        raise transaction.TransactionManagementError("stock_release needs a transaction")
    if any(n < 1 for n in lines.values()):
        raise ValueError("Release at least one unit of each product.")
    now, ids = timezone.now(), sorted(lines)
    for product_id in ids:
        Stock.objects.filter(product_id=product_id).update(
            quantity=F("quantity") + lines[product_id], updated_at=now
        )
    levels = list(_levels(ids))
    stock_refresh(ids, [parent for _pid, _quantity, parent in levels])
    # A row that now holds exactly what came back was at zero: back in stock.
    availability_changed([pid for pid, quantity, _parent in levels if quantity == lines[pid]])


def stock_set(product_id: int, quantity: int) -> None:
    """Set a product's units on hand (an admin's count); the save refreshes the shelf after
    the commit (inventory.receivers)."""
    stock, created = Stock.objects.get_or_create(
        product_id=product_id, defaults={"quantity": quantity}
    )
    if not created and stock.quantity != quantity:
        stock.quantity = quantity
        stock.save()
