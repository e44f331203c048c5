"""Reads of stock for display. Decisions (can this order be placed?) are never taken from
here, only from PostgreSQL (inventory.services.stock_reserve)."""

import functools

from django.utils.html import format_html

import shelf

from . import cache
from .cache import LOW_STOCK


def stock_get_many(product_ids: list[int]) -> dict[int, int]:
    """Units on hand per product, from the shelf."""
    return cache.stock_get_many(product_ids)


def stock_request(product_ids: list[int]) -> shelf.Request:
    """The read of these products' stock, to ride along another shelf read (a page and the
    stock it shows in one round trip, see shelf.fetch_with)."""
    return cache.stock_request(product_ids)


@functools.lru_cache(maxsize=256)
def stock_badge_html(quantity: int | None) -> str:
    """The badge a product card or page shows for `quantity` units on hand (a few distinct
    answers, filled into every cached page many times a second: kept)."""
    if quantity is None:
        return ""
    if quantity <= 0:
        return '<span class="badge badge-out">Out of stock</span>'
    if quantity < LOW_STOCK:
        return format_html('<span class="badge badge-low">Only {} left</span>', quantity)
    return '<span class="badge badge-in">In stock</span>'
