"""Reads of carts for the header badge and the cart page."""

import functools
import logging
from dataclasses import dataclass
from decimal import Decimal

from django.http import HttpRequest
from django.utils.html import format_html
from redis.exceptions import RedisError

from catalog.selectors import product_get_many
from inventory.selectors import stock_get_many

from . import store
from .models import Cart
from .services import cart_load, cart_owner, shipping_fee

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Line:
    product_id: int
    quantity: int
    product: dict | None  # None: the product is gone or inactive
    stock: int

    @property
    def available(self) -> bool:
        return self.product is not None and self.stock >= self.quantity

    @property
    def limit(self) -> int:
        """The most this line can hold now: the stock, and the cart's limit."""
        return min(store.MAX_QUANTITY, self.stock)

    @property
    def unit_price(self) -> Decimal:
        return Decimal(self.product["price"]) if self.product else Decimal(0)

    @property
    def subtotal(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class CartView:
    lines: list[Line]
    from_database: bool = False  # Redis was unavailable: showing the last synced state

    @property
    def count(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def total(self) -> Decimal:
        """The products' prices, before shipping."""
        return sum((line.subtotal for line in self.lines if line.product), Decimal(0))

    @property
    def shipping(self) -> Decimal:
        """Shipping as checkout will charge it (the same rule)."""
        return shipping_fee(sum(1 for line in self.lines if line.product))

    @property
    def grand_total(self) -> Decimal:
        return self.total + self.shipping

    @property
    def orderable(self) -> bool:
        """Whether checkout can start: a line that is gone, sold out or short must be fixed
        first (checkout decides again from PostgreSQL; this only spares the shopper a form
        filled in for nothing)."""
        return bool(self.lines) and all(line.available for line in self.lines)


def cart_lines(owner: str) -> dict[int, int]:
    """{product id: quantity} of the cart, loading it from PostgreSQL if Redis lost it."""
    cart_hash = store.read(owner)
    if cart_hash is None:
        cart_load(owner)
        cart_hash = store.read(owner) or {}
    return store.lines_of(cart_hash)


def _synced_lines(owner: str) -> dict[int, int]:
    cart = Cart.objects.filter(owner=owner).first()
    return dict(cart.lines.values_list("product_id", "quantity")) if cart else {}


def cart_get(owner: str | None) -> CartView:
    if owner is None:
        return CartView([])
    try:
        lines, from_database = cart_lines(owner), False
    except RedisError:
        logger.warning("state redis unavailable: cart %s shown as last synced", owner)
        lines, from_database = _synced_lines(owner), True
    ids = sorted(lines)
    products = product_get_many(ids)
    stock = stock_get_many(ids)
    return CartView(
        [Line(p, lines[p], products.get(p), stock.get(p) or 0) for p in ids], from_database
    )


@functools.lru_cache(maxsize=256)
def buy_controls_html(stock: int | None) -> str:
    """A product page's quantity box and "Add to cart" button (its `buy` slot) for `stock`
    units on hand: a disabled "Out of stock" button at 0, a box that stops at the stock
    otherwise. None (the level could not be read) offers the cart's own limit; adding then
    checks the stock anyway. A few distinct answers, filled many times a second: kept."""
    if stock is not None and stock <= 0:
        return '<button type="submit" class="button-big" disabled>Out of stock</button>'
    limit = store.MAX_QUANTITY if stock is None else min(store.MAX_QUANTITY, stock)
    return format_html(
        '<div class="field"><label for="quantity">Quantity</label>'
        '<input id="quantity" name="quantity" type="number" min="1" max="{}" value="1"'
        ' inputmode="numeric"></div>'
        '<button type="submit" class="button-big">Add to cart</button>',
        limit,
    )


def cart_count(request: HttpRequest) -> int | None:
    """Items in the visitor's cart, for the header: 0 without a cart, None while the state
    Redis cannot say (a count of 0 would tell the shopper their cart is empty)."""
    owner = cart_owner(getattr(request, "user", None), request.session)
    if owner is None:
        return 0
    # The session store may have read this owner's cart with the session, in the same round
    # trip (shop/visitor.py): used as is when it is loaded; else read, or loaded, as usual.
    prefetched = getattr(request.session, "prefetched", None)
    if prefetched is not None and prefetched.owner == owner and prefetched.cart:
        return sum(store.lines_of(store.decoded(prefetched.cart)).values())
    try:
        return sum(cart_lines(owner).values())
    except RedisError:
        return None


def cart_dirty_count() -> int:
    """Carts changed in Redis and not yet written behind to PostgreSQL (RedisError if the state
    Redis cannot say)."""
    return store.dirty_count()
