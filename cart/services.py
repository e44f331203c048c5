"""Cart changes (in the state Redis) and their write-behind to PostgreSQL."""

import logging
import secrets
import time
from collections.abc import Callable
from decimal import Decimal

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.db import DatabaseError, transaction

from catalog.models import Product
from catalog.selectors import product_get
from inventory.selectors import stock_get_many

from . import store
from .models import Cart, CartLine

logger = logging.getLogger(__name__)

SESSION_KEY = "cart"
# Carts untouched this long are persisted (they already are, once clean) and leave Redis.
IDLE_SECONDS = 3600
# One sync of a cart is ~3 SQL statements; 500 carts take well under the 2 s beat interval.
SYNC_BATCH = 500
LAG_KEY = "cart:sync_lag"
LAG_SAMPLES = 1000


class CartError(Exception):
    """A change the shopper asked for that the cart refuses, with a message for them."""


def owner_for_user(user_id: int) -> str:
    return f"u:{user_id}"


def owner_for_token(token: str | None) -> str | None:
    """The owner of an anonymous session's cart, from its token (None: no cart yet)."""
    return f"s:{token}" if token else None


def cart_owner(user, session: SessionBase, create: bool = False) -> str | None:
    """The cart owner key of this visitor: the user, else the anonymous session's token."""
    if user is not None and user.is_authenticated:
        return owner_for_user(user.pk)
    token = session.get(SESSION_KEY)
    if token is None and create:
        token = session[SESSION_KEY] = secrets.token_urlsafe(18)
    return owner_for_token(token)


def cart_load(owner: str) -> None:
    """Put the cart into Redis as of its last sync (no-op if it is there already)."""
    cart = Cart.objects.filter(owner=owner).first()
    lines = dict(cart.lines.values_list("product_id", "quantity")) if cart else {}
    store.load(owner, cart.version if cart else 0, lines)


def _loaded(owner: str, change: Callable[[], int]) -> int:
    result = change()
    if result == -2:  # not in Redis (new, idle-evicted or flushed): load, then change
        cart_load(owner)
        result = change()
    return result


def _limit(product_id: int) -> int:
    product = product_get(product_id)
    if product is None:
        raise CartError("Sorry, that product is not available.")
    if product.get("variants"):
        # Sold as one of its variants: the page's form names the chosen one.
        raise CartError("Please choose one of its options first.")
    stock = stock_get_many([product_id]).get(product_id) or 0
    if stock < 1:
        raise CartError("Sorry, that product is out of stock.")
    return min(store.MAX_QUANTITY, stock)


def cart_item_add(owner: str, product: int, quantity: int) -> int:
    """Add `quantity` of a product; return the line's new quantity."""
    limit = _limit(product)
    result = _loaded(owner, lambda: store.add(owner, product, quantity, limit))
    if result == -1:
        raise CartError(f"You can have at most {limit} of this product in your cart.")
    return result


def cart_item_update(owner: str, product: int, quantity: int) -> None:
    """Set a line's quantity (1 to 99, and at most the stock)."""
    limit = _limit(product)
    if quantity > limit:
        left = f"Only {limit} left" if limit < store.MAX_QUANTITY else f"At most {limit}"
        raise CartError(f"{left}: enter {limit} or fewer.")
    _loaded(owner, lambda: store.set_quantity(owner, product, quantity))


def shipping_fee(line_count: int) -> Decimal:
    """What shipping costs for an order of `line_count` lines: the flat ORDER_SHIPPING_FEE,
    nothing for no lines. The one rule: the cart shows it, checkout charges it."""
    return settings.ORDER_SHIPPING_FEE if line_count else Decimal(0)


def cart_item_remove(owner: str, product: int) -> None:
    _loaded(owner, lambda: store.set_quantity(owner, product, 0))


def cart_clear(owner: str) -> None:
    """Empty the cart (its lines were ordered); the write-behind records the empty cart."""
    _loaded(owner, lambda: store.clear(owner))


def cart_merge_on_login(session: SessionBase, user_id: int) -> None:
    """Merge the anonymous cart into the user's, keeping the larger quantity of each line."""
    token = session.pop(SESSION_KEY, None)
    if token is None:
        return
    anonymous, owner = f"s:{token}", owner_for_user(user_id)
    cart_load(anonymous)
    cart_load(owner)
    store.merge(owner, anonymous)
    store.delete(anonymous)
    Cart.objects.filter(owner=anonymous).delete()


def cart_sync(owner: str) -> bool:
    """Write the cart's current state to PostgreSQL unless a newer version is already there.

    Idempotent: a second run finds the same version stored and changes nothing. The dirty mark
    is cleared only after the commit, and only if the cart did not change meanwhile.
    """
    cart_hash = store.read(owner)
    if cart_hash is None:  # flushed or evicted before we got to it: PostgreSQL keeps the last sync
        store.mark_clean(owner, -1)
        return False
    version = cart_hash[store.VERSION]
    lines = store.lines_of(cart_hash)
    with transaction.atomic():
        user_id = int(owner[2:]) if owner.startswith("u:") else None
        cart, _ = Cart.objects.select_for_update().get_or_create(
            owner=owner, defaults={"user_id": user_id}
        )
        if cart.version < version:
            existing = set(Product.objects.filter(pk__in=lines).values_list("pk", flat=True))
            CartLine.objects.filter(cart=cart).exclude(product_id__in=existing).delete()
            CartLine.objects.bulk_create(
                [CartLine(cart=cart, product_id=p, quantity=q) for p, q in lines.items()
                 if p in existing],
                update_conflicts=True,
                unique_fields=["cart", "product"],
                update_fields=["quantity"],
            )  # fmt: skip
            cart.version = version
            cart.save(update_fields=["version", "updated_at"])
        transaction.on_commit(lambda: store.mark_clean(owner, version))
    return True


def carts_sync_dirty(batch: int = SYNC_BATCH) -> int:
    """Sync up to `batch` dirty carts, oldest first; return how many were synced."""
    synced, lags = 0, []
    for owner, dirty_since in store.dirty(batch):
        try:
            done = cart_sync(owner)
        except DatabaseError:
            # One bad cart (say, of a deleted user) must not hold up the others; it stays dirty.
            logger.exception("cart %s could not be synced", owner)
            continue
        if done:
            synced += 1
            lags.append(time.time() - dirty_since)
    if lags:
        pipe = store.client().pipeline()
        pipe.lpush(LAG_KEY, *(round(lag, 3) for lag in lags))
        pipe.ltrim(LAG_KEY, 0, LAG_SAMPLES - 1)
        pipe.execute()
    return synced


def carts_evict_idle(limit: int = 1000) -> int:
    """Remove carts idle for over an hour from Redis once PostgreSQL holds their last state."""
    before = time.time() - IDLE_SECONDS
    owners = store.idle(before, limit)
    versions = dict(Cart.objects.filter(owner__in=owners).values_list("owner", "version"))
    return sum(
        store.evict_if_idle(owner, versions[owner], before) for owner in owners if owner in versions
    )


def sync_lags() -> list[float]:
    """The most recent sync lags in seconds (cart change to committed row), newest first."""
    return [float(v) for v in store.client().lrange(LAG_KEY, 0, LAG_SAMPLES - 1)]
