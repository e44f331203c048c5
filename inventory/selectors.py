from django.utils.html import format_html

from .cache import LOW_STOCK


def stock_badge_html(quantity: int | None) -> str:
    """The badge a product card or page shows for `quantity` units on hand."""
    if quantity is None:
        return ""
    if quantity <= 0:
        return '<span class="badge badge-out">Out of stock</span>'
    if quantity < LOW_STOCK:
        return format_html('<span class="badge badge-low">Only {} left</span>', quantity)
    return '<span class="badge badge-in">In stock</span>'
