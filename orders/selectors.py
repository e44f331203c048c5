"""Reads for checkout and orders. Per-visitor and decisive, so straight from PostgreSQL: a price
or stock level shown before "Place order" must not lag behind the one the order will use."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import BooleanField, Count, Exists, ExpressionWrapper, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce

from cart.selectors import CartView, cart_lines
from cart.services import shipping_fee
from catalog.models import Product

from .models import UNPLACED, Address, Order


@dataclass(frozen=True)
class PricedLine:
    product_id: int
    quantity: int
    name: str
    slug: str
    sku: str
    unit_price: Decimal
    active: bool  # False: the product was withdrawn from sale
    left: int  # units on hand as PostgreSQL has them now

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity

    @property
    def short(self) -> bool:
        return self.left < self.quantity


@dataclass(frozen=True)
class Priced:
    """Cart lines priced from PostgreSQL, with the shipping fee and totals an order would get."""

    lines: list[PricedLine]
    shipping: Decimal

    @property
    def subtotal(self) -> Decimal:
        return sum((line.line_total for line in self.lines if line.active), Decimal(0))

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.shipping

    @property
    def count(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def orderable(self) -> bool:
        return bool(self.lines) and all(ln.active and not ln.short for ln in self.lines)


def lines_priced(lines: Mapping[int, int]) -> Priced:
    """Price `lines` ({product id: quantity}) at PostgreSQL's current prices; products that no
    longer exist are left out (their cart lines go with them); those shoppers no longer see
    (inactive, or in an inactive category) are not for sale."""
    shown = Product.objects.shown().filter(pk=OuterRef("pk"))
    # A variant without a price of its own costs its parent's; it is sold while both are
    # active.
    rows = (
        Product.objects.filter(pk__in=list(lines))
        .annotate(
            unit_price=Coalesce("price", "parent__price"),
            sold=ExpressionWrapper(
                Q(is_active=True) & (Q(parent__isnull=True) | Q(parent__is_active=True)),
                output_field=BooleanField(),
            ),
            shown=Exists(shown),
        )
        .values("pk", "name", "slug", "sku", "unit_price", "sold", "shown", "stock__quantity")
    )
    priced = [
        PricedLine(
            product_id=row["pk"],
            quantity=lines[row["pk"]],
            name=row["name"],
            slug=row["slug"],
            sku=row["sku"],
            unit_price=row["unit_price"],
            active=row["sold"] and row["shown"],
            left=row["stock__quantity"] or 0,
        )
        for row in rows.order_by("pk")
    ]
    return Priced(priced, shipping_fee(len(priced)))


def checkout_review(owner: str | None) -> Priced:
    """The visitor's cart as an order would be placed now (RedisError if the cart is away)."""
    return lines_priced(cart_lines(owner) if owner else {})


def prices_seen(cart: CartView) -> dict[str, str]:
    """{product id: price} as the cart (from the shelf) shows them, to compare at the review."""
    return {str(line.product_id): str(line.unit_price) for line in cart.lines if line.product}


def price_changes(seen: Mapping[str, str], priced: Priced) -> list[tuple[str, str, Decimal]]:
    """(name, price seen, price now) of each line whose price changed since it was seen."""
    changes = []
    for line in priced.lines:
        before = seen.get(str(line.product_id))
        if before is not None and Decimal(before) != line.unit_price:
            changes.append((line.name, before, line.unit_price))
    return changes


def _visible_to(user, session_numbers: Iterable[str]) -> Q:
    """Orders this visitor may see: their account's, and those placed in this session."""
    visible = Q(number__in=list(session_numbers))
    if user is not None and user.is_authenticated:
        visible |= Q(user_id=user.pk)
    return visible


def order_get(number: str, user, session_numbers: Iterable[str]) -> Order | None:
    """The order with this number if the visitor may see it, else None (whether it exists or
    not, so that order numbers cannot be probed)."""
    return (
        Order.objects.filter(_visible_to(user, session_numbers), number=number)
        .exclude(status__in=UNPLACED)
        .prefetch_related("lines", "payments")
        .first()
    )


def order_by_token(token: str, user, session_numbers: Iterable[str]) -> Order | None:
    """The visitor's order placed from this checkout token, if any."""
    return (
        Order.objects.filter(_visible_to(user, session_numbers), checkout_token=token)
        .exclude(status__in=UNPLACED)
        .first()
    )


def orders_of_user(user_id: int) -> QuerySet[Order]:
    """The user's orders, newest first, with how many lines each has."""
    return (
        Order.objects.filter(user_id=user_id)
        .exclude(status__in=UNPLACED)
        .annotate(line_count=Count("lines"))
        .order_by("-created_at", "-pk")
    )


def has_bought(user_id: int, product_id: int) -> bool:
    """Whether the user has a paid (or shipped) order with this product: who may review it."""
    return (
        Order.objects.filter(
            Q(lines__product_id=product_id) | Q(lines__product__parent_id=product_id),
            user_id=user_id,
        )
        .exclude(status__in=(*UNPLACED, Order.Status.CANCELLED))
        .exists()
    )


# The fields of an address that a checkout form takes.
ADDRESS_FIELDS = ("name", "address_line1", "address_line2", "city", "postcode", "country")


def addresses_of_user(user_id: int) -> list[Address]:
    """The shopper's address book, the default first."""
    return list(Address.objects.filter(user_id=user_id))


def address_get(user_id: int, address_id: int) -> Address | None:
    """The shopper's address with this id; None for no such address or someone else's."""
    return Address.objects.filter(user_id=user_id, pk=address_id).first()


def address_default(user_id: int) -> dict[str, str] | None:
    """The default address's checkout fields, or None when the shopper has none."""
    return Address.objects.filter(user_id=user_id, is_default=True).values(*ADDRESS_FIELDS).first()
