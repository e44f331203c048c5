"""What inventory tells the apps above it, so that it never calls them."""

from django.dispatch import Signal

# Sent inside the transaction of a stock change, with `product_ids`: products whose stock may
# have reached zero or left it (sold out, back in stock). A sale that leaves units on hand is
# not told: nothing but the badge changes, and the badge is read live.
stock_availability_changed = Signal()


def availability_changed(product_ids: list[int]) -> None:
    """Tell listeners that these products may have sold out or come back in stock."""
    if product_ids:
        stock_availability_changed.send(sender="inventory", product_ids=list(product_ids))
