"""Placing orders and confirming them by email."""

import logging
import secrets
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from cart.models import CartLine
from cart.services import cart_clear, cart_sync
from inventory.services import OutOfStock, stock_release, stock_reserve

from . import tasks
from .models import UNPLACED, Address, Order, OrderLine, Payment
from .payments import PaymentResult, PaymentUnavailable, payment_provider
from .selectors import ADDRESS_FIELDS, Priced, lines_priced

logger = logging.getLogger(__name__)

# No 0/O or 1/I: the number is read out over the phone. 32**8 numbers make a clash unlikely;
# a clash is retried.
NUMBER_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
NUMBER_ATTEMPTS = 3
# Seconds an order's own confirmation task has before the sweep sends the confirmation itself.
CONFIRMATION_GRACE = 120
CONFIRMATION_SWEEP_BATCH = 100
RESERVATION_SWEEP_BATCH = 100
DETAIL_FIELDS = ("email", "name", "address_line1", "address_line2", "city", "postcode", "country")


class CheckoutError(Exception):
    """The order cannot be placed as it stands; the message says why, for the shopper."""


class EmptyCart(CheckoutError):
    pass


class ItemsUnavailable(CheckoutError):
    """Some lines are withdrawn from sale or short of stock; nothing was reserved or charged."""


class PriceChanged(CheckoutError):
    """The total differs from the one the shopper confirmed; nothing was reserved or charged."""


class PaymentDeclined(CheckoutError):
    """The provider declined: the stock went back; this checkout's token is used up."""


class CheckoutClosed(CheckoutError):
    """This checkout's token already ended without an order: review the order again."""


CLOSED = "That checkout did not go through. Please review your order and place it again."
PROVIDER_UNAVAILABLE = (
    'We could not reach the payment service. Please press "Place order" again: you will'
    " not be charged twice."
)
TOO_SLOW = (
    "The payment took too long and the order was not placed. Any charge will be refunded;"
    " please contact us if it is not."
)


def checkout_token_new() -> str:
    """A token for one checkout: the orders it can produce are at most one."""
    return secrets.token_urlsafe(24)


def _number_new() -> str:
    code = "".join(secrets.choice(NUMBER_ALPHABET) for _ in range(8))
    return f"SH-{code[:4]}-{code[4:]}"


def _constraint(exc: IntegrityError) -> str | None:
    return getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None)


def _order_open(token: str, user_id: int | None, details: Mapping[str, str]) -> Order:
    """Insert the order first: a second submit of the same token waits on the unique index
    until this transaction ends, then fails (if this one committed) before charging anyone."""
    for _ in range(NUMBER_ATTEMPTS):
        try:
            with transaction.atomic():
                return Order.objects.create(
                    number=_number_new(),
                    checkout_token=token,
                    user_id=user_id,
                    **{name: details.get(name, "") for name in DETAIL_FIELDS},
                )
        except IntegrityError as exc:
            if _constraint(exc) != "order_number_unique":
                raise
    raise RuntimeError("no free order number after several attempts")


def _cart_flushed(owner: str) -> dict[int, int]:
    """Write the cart to PostgreSQL now and return its lines from there."""
    cart_sync(owner)
    return dict(CartLine.objects.filter(cart__owner=owner).values_list("product_id", "quantity"))


def _refusal(priced: Priced, short: Mapping[int, tuple[int, int]]) -> str:
    """Name each short product and how many are left, for the shopper."""
    names = {line.product_id: line.name for line in priced.lines}
    parts = []
    for pid, (asked, left) in sorted(short.items()):
        have = "out of stock" if left <= 0 else f"only {left} left"
        parts.append(f"{names[pid]} is {have} (you asked for {asked})")
    return "Not enough stock: " + "; ".join(parts) + ". Nothing was ordered or charged."


def order_place(
    *,
    owner: str,
    user_id: int | None,
    details: Mapping[str, str],
    token: str,
    card_number: str,
    expected_total: Decimal | None = None,
) -> Order:
    """Place the order for the cart of `owner`, or raise CheckoutError; in three steps.

    1. Reserve, in one short transaction: flush the cart to PostgreSQL, price it from
       PostgreSQL (never from the form), create the order PENDING with its lines and take the
       stock (all or nothing). `expected_total` is the total the shopper confirmed: if prices
       moved since, PriceChanged asks them again.
    2. Charge the provider outside any transaction, so a slow provider holds no stock rows.
    3. Confirm (PAID, with its payment) or, if declined, release the stock (FAILED).

    Idempotent per `token`, which is also the charge's idempotency key: a second call, at once
    or later, resumes the same order and gets the provider's first answer, never a second
    charge. A process killed between the steps leaves a PENDING order that
    order_reservations_settle confirms or releases.
    """
    order = Order.objects.filter(checkout_token=token).first()
    if order is None:
        order = _order_reserve(owner, user_id, details, token, expected_total)
    if order.status == Order.Status.FAILED:
        raise CheckoutClosed(CLOSED)
    if order.status != Order.Status.PENDING:
        return order
    provider = payment_provider()
    try:
        result = provider.charge(
            order.total, order.number, {"card_number": card_number}, idempotency_key=token
        )
    except PaymentUnavailable as exc:
        # The order stays reserved: a retry with this token asks the provider again under the
        # same key, and the sweep settles it if nobody retries.
        raise CheckoutError(PROVIDER_UNAVAILABLE) from exc
    if not result.approved:
        _order_release(order.pk)
        raise PaymentDeclined(result.message)
    return _order_confirm(order.pk, provider.name, result, owner=owner)


def _order_reserve(
    owner: str,
    user_id: int | None,
    details: Mapping[str, str],
    token: str,
    expected_total: Decimal | None,
) -> Order:
    """Step 1: the PENDING order with its lines, and its stock taken; or CheckoutError."""
    try:
        with transaction.atomic():
            order = _order_open(token, user_id, details)
            priced = lines_priced(_cart_flushed(owner))
            if not priced.lines:
                raise EmptyCart("Your cart is empty.")
            withdrawn = [line.name for line in priced.lines if not line.active]
            if withdrawn:
                raise ItemsUnavailable(
                    f"No longer for sale: {', '.join(withdrawn)}. Please update your cart."
                )
            if expected_total is not None and priced.total != expected_total:
                raise PriceChanged(
                    f"The total changed from ${expected_total} to ${priced.total} since you"
                    " reviewed your order. Please check it and place the order again."
                )
            # The lines are the reservation: what the release gives back, at the prices charged.
            OrderLine.objects.bulk_create(
                OrderLine(
                    order=order,
                    product_id=line.product_id,
                    name=line.name,
                    sku=line.sku,
                    unit_price=line.unit_price,
                    quantity=line.quantity,
                )
                for line in priced.lines
            )
            order.subtotal, order.shipping, order.total = (
                priced.subtotal, priced.shipping, priced.total,
            )  # fmt: skip
            order.save(update_fields=["subtotal", "shipping", "total", "updated_at"])
            # Last, so the stock rows stay locked only for these UPDATEs and the commit.
            try:
                stock_reserve(
                    {line.product_id: line.quantity for line in priced.lines}, commit=True
                )
            except OutOfStock as exc:
                raise ItemsUnavailable(_refusal(priced, exc.short)) from exc
    except IntegrityError as exc:
        if _constraint(exc) != "order_checkout_token_unique":
            raise
        # The same checkout was submitted twice at once and the other submit reserved first.
        return Order.objects.get(checkout_token=token)
    return order


def _order_confirm(
    order_id: int, provider_name: str, result: PaymentResult, owner: str | None = None
) -> Order:
    """Step 3 after an approved charge: the order is PAID with its payment (once).

    `owner` is the cart to empty; the sweep, which does not know it, leaves the cart alone.
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status == Order.Status.PENDING:
            _payment_record(order, provider_name, result)
            order.status = Order.Status.PAID
            order.save(update_fields=["status", "updated_at"])
            if owner is not None:
                transaction.on_commit(lambda: cart_clear(owner), robust=True)
            transaction.on_commit(
                lambda: tasks.send_order_confirmation.delay(order.pk), robust=True
            )
        elif order.status == Order.Status.FAILED:
            # Charged after the sweep gave the stock back (a charge slower than
            # ORDER_RESERVATION_TIMEOUT): record the charge so it is not lost, then refund it.
            _payment_record(order, provider_name, result)
            logger.error("order %s charged after its reservation was released", order.number)
    if order.status == Order.Status.FAILED:
        _charge_refund(order.pk)
        raise CheckoutError(TOO_SLOW)
    return order


def _payment_record(
    order: Order,
    provider_name: str,
    result: PaymentResult,
    status: str = Payment.Status.APPROVED,
    card: Payment | None = None,
) -> Payment:
    """Record a charge (or, with `status` REFUNDED, a refund of the charge `card`) once per
    provider reference; the caller holds the order's row lock."""
    return Payment.objects.get_or_create(
        order=order,
        reference=result.reference,
        defaults={
            "provider": provider_name,
            "amount": order.total,
            "status": status,
            "card_brand": card.card_brand if card else result.card_brand,
            "card_last4": card.card_last4 if card else result.card_last4,
        },
    )[0]


def _refund_key(order: Order) -> str:
    return f"refund:{order.checkout_token}"


def _charge_refund(order_id: int) -> bool:
    """Refund the charge of a FAILED order (one whose stock went back) through the provider,
    and record the refund as a payment; True once it is refunded, False if the provider could
    not take it now (order_reservations_settle tries again).

    Outside any transaction like the charge; the refund's own idempotency key makes a second
    call (a retry, the sweep at the same time) refund nothing more.
    """
    order = Order.objects.get(pk=order_id)
    payments = {p.status: p for p in order.payments.all()}
    charge = payments.get(Payment.Status.APPROVED)
    if order.status != Order.Status.FAILED or charge is None:
        return False
    if Payment.Status.REFUNDED in payments:
        return True
    provider, key = payment_provider(), _refund_key(order)
    try:
        result = provider.refund(charge.reference, charge.amount, idempotency_key=key)
    except PaymentUnavailable:
        logger.warning("order %s: refund not taken now; the sweep tries again", order.number)
        return False
    if not result.approved:
        logger.error("order %s: the provider refused the refund: %s", order.number, result.message)
        return False
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        _payment_record(order, provider.name, result, Payment.Status.REFUNDED, card=charge)
    logger.warning("order %s: its charge was refunded", order.number)
    return True


def _order_release(order_id: int) -> bool:
    """Step 3 without a charge: give the stock back, the order FAILED; False if not PENDING."""
    with transaction.atomic():
        order = (
            Order.objects.select_for_update()
            .filter(pk=order_id, status=Order.Status.PENDING)
            .first()
        )
        if order is None:
            return False
        reserved = dict(order.lines.exclude(product=None).values_list("product_id", "quantity"))
        if reserved:
            stock_release(reserved)
        order.status = Order.Status.FAILED
        order.save(update_fields=["status", "updated_at"])
    return True


def order_reservations_settle(
    older_than: float | None = None, limit: int = RESERVATION_SWEEP_BATCH
) -> dict[str, int]:
    """Settle the orders still PENDING `older_than` seconds after they were reserved, and the
    charges left without an order. Returns how many were confirmed, released and refunded.

    A PENDING order's process died (or lost PostgreSQL) between reserving and confirming. The
    provider is asked about the checkout's charge by its idempotency key: a charge that went
    through is confirmed, the stock being still held (nothing is lost); any other reservation
    is released. One the provider cannot answer for stays reserved until it can: released, a
    charge found later would have no stock. Then charges_reconcile refunds the charges whose
    order gave its stock back.
    """
    if older_than is None:
        older_than = settings.ORDER_RESERVATION_TIMEOUT
    cutoff = timezone.now() - timedelta(seconds=older_than)
    due = Order.objects.filter(status=Order.Status.PENDING, created_at__lt=cutoff).order_by(
        "created_at"
    )[:limit]
    provider = payment_provider()
    settled = {"confirmed": 0, "released": 0, "refunded": 0}
    for order_id, token in list(due.values_list("pk", "checkout_token")):
        try:
            result = provider.charge_find(token)
        except PaymentUnavailable:
            logger.warning("order %s: the provider cannot say if it was charged", order_id)
            continue
        if result is not None and result.approved:
            try:
                _order_confirm(order_id, provider.name, result)
                settled["confirmed"] += 1
            except CheckoutError:  # released meanwhile: its charge was refunded instead
                settled["refunded"] += 1
        elif _order_release(order_id):
            settled["released"] += 1
    settled["refunded"] += charges_reconcile(limit=limit)
    return settled


def charges_reconcile(limit: int = RESERVATION_SWEEP_BATCH) -> int:
    """Refund the charges of orders that gave their stock back (FAILED); return how many.

    Two ways a charge outlives its order: it landed after the sweep released the reservation,
    and either its refund could not be made then (a charge row without a refund), or its
    process died before it could record it (no row at all: so the provider is asked again about
    each order released within the last ORDER_RESERVATION_TIMEOUT, time enough for any charge
    in flight at the release to have landed).
    """
    unrefunded = (
        Order.objects.filter(status=Order.Status.FAILED, payments__status=Payment.Status.APPROVED)
        .exclude(payments__status=Payment.Status.REFUNDED)
        .order_by("updated_at")
        .values_list("pk", flat=True)[:limit]
    )
    refunded = sum(_charge_refund(pk) for pk in list(unrefunded))
    recent = timezone.now() - timedelta(seconds=settings.ORDER_RESERVATION_TIMEOUT)
    unknown = (
        Order.objects.filter(status=Order.Status.FAILED, payments=None, updated_at__gte=recent)
        .order_by("updated_at")
        .values_list("pk", "checkout_token")[:limit]
    )
    provider = payment_provider()
    for order_id, token in list(unknown):
        try:
            result = provider.charge_find(token)
        except PaymentUnavailable:
            continue
        if result is None or not result.approved:
            continue  # declined, or never charged: nothing to give back
        with transaction.atomic():
            order = Order.objects.select_for_update().get(pk=order_id)
            _payment_record(order, provider.name, result)
        logger.error("order %s charged after its reservation was released", order_id)
        refunded += _charge_refund(order_id)
    return refunded


def order_confirmation_send(order_id: int) -> bool:
    """Email the order's confirmation unless it was sent already; return whether it was sent.

    The row lock makes a concurrent second run wait and then skip. A crash between sending and
    the commit sends it again on the retry: a duplicate email beats a lost one.
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(pk=order_id).first()
        if order is None or order.confirmation_sent_at is not None:
            return False
        body = render_to_string(
            "emails/order_confirmation.txt",
            {"order": order, "lines": order.lines.all(), "site_name": settings.SITE_NAME},
        )
        send_mail(f"Your {settings.SITE_NAME} order {order.number}", body, None, [order.email])
        order.confirmation_sent_at = timezone.now()
        order.save(update_fields=["confirmation_sent_at", "updated_at"])
    return True


def order_confirmations_send_due(
    older_than: float = CONFIRMATION_GRACE, limit: int = CONFIRMATION_SWEEP_BATCH
) -> int:
    """Send the confirmations still unsent `older_than` seconds after the order; return count.

    The order row is the outbox: `confirmation_sent_at` stays empty until a send commits, so
    an order placed while the broker was down, or whose task died with its worker (a killed
    worker's task comes back only after the broker's visibility timeout), is still confirmed.
    Idempotent like `order_confirmation_send`.
    """
    cutoff = timezone.now() - timedelta(seconds=older_than)
    due = (
        Order.objects.filter(confirmation_sent_at=None, created_at__lt=cutoff)
        .exclude(status__in=UNPLACED)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(order_confirmation_send(pk) for pk in list(due))


# --- Address book ----------------------------------------------------------------------------


def _addresses_locked(user_id: int) -> list[Address]:
    """The shopper's addresses, locked: changes to one address book run one at a time, so two
    requests cannot both leave a default (the constraint would refuse the second) or none."""
    return list(Address.objects.select_for_update().filter(user_id=user_id).order_by("pk"))


def address_create(user_id: int, fields: Mapping[str, str], *, default: bool = False) -> Address:
    """Add an address; the first one of a book, or one asked to be, becomes the default."""
    with transaction.atomic():
        book = _addresses_locked(user_id)
        default = default or not any(a.is_default for a in book)
        if default:
            Address.objects.filter(user_id=user_id, is_default=True).update(is_default=False)
        return Address.objects.create(
            user_id=user_id, is_default=default, **{n: fields.get(n, "") for n in ADDRESS_FIELDS}
        )


def address_update(address: Address, fields: Mapping[str, str]) -> Address:
    for name in ADDRESS_FIELDS:
        setattr(address, name, fields.get(name, ""))
    address.save(update_fields=list(ADDRESS_FIELDS))
    return address


def address_set_default(address: Address) -> None:
    with transaction.atomic():
        if address.pk not in {a.pk for a in _addresses_locked(address.user_id)}:
            return  # deleted meanwhile: the book keeps the default it has
        Address.objects.filter(user_id=address.user_id, is_default=True).exclude(
            pk=address.pk
        ).update(is_default=False)
        Address.objects.filter(pk=address.pk).update(is_default=True)
    address.is_default = True


def address_delete(address: Address) -> None:
    """Delete an address; when it was the default, the newest remaining one takes its place."""
    with transaction.atomic():
        book = _addresses_locked(address.user_id)
        Address.objects.filter(pk=address.pk).delete()
        rest = [a for a in book if a.pk != address.pk]
        if rest and not any(a.is_default for a in rest):
            newest = max(rest, key=lambda a: (a.created_at, a.pk))
            Address.objects.filter(pk=newest.pk).update(is_default=True)


def address_save_from_checkout(user_id: int, details: Mapping[str, str]) -> Address:
    """Keep the address a checkout was given: the same address again is not a second entry."""
    fields = {name: details.get(name, "") for name in ADDRESS_FIELDS}
    same = Address.objects.filter(user_id=user_id, **fields).first()
    return same if same is not None else address_create(user_id, fields)
