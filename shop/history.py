"""Recently viewed products: every visitor's last product pages, shown on product pages and
the cart through the `recent` visitor slot (the shared page never holds them).

Where the list lives:
- signed in: a list in the state Redis, `recent:u:<user id>`, most recent first, kept
  RECENT_DAYS after the last view. Recording the view and reading the list come with the
  session's own read, in the same round trip (shop/visitor.py); else they are one pipeline.
- not signed in: the cookie `recent` (product ids, most recent first), so a visitor without a
  session still costs the state Redis nothing and no entry exists for a passer-by. The ids are
  only a list of public catalog pages: a tampered cookie can show its owner other cards, no
  one else's data; anything but a short list of numbers is ignored.
At sign-in the cookie's ids go to the front of the user's list and the cookie is removed.

The cards come from the catalog's product entries (catalog.product), never from SQL on a hit.
A state Redis that fails costs the list only (shop.state's breaker): the slot is left empty.
"""

import functools
import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django_redis import get_redis_connection
from redis.exceptions import RedisError

from cart.services import owner_for_user
from catalog.selectors import product_cards
from shelf import edge

logger = logging.getLogger(__name__)

COOKIE = "recent"
SHOWN = 8
# The product being viewed is kept too, but not shown on its own page.
KEPT = SHOWN + 1
RECENT_DAYS = 30
_MAX_ID_DIGITS = 10
# What a card shows of a catalog.product entry: a changed entry is a new card.
_CARD_FIELDS = ("id", "slug", "name", "image", "rating", "reviews", "price")


def _key(user_id: int) -> str:
    return f"recent:u:{user_id}"


def _cookie_ids(request: HttpRequest) -> list[int]:
    ids: list[int] = []
    for item in request.COOKIES.get(COOKIE, "").split(".")[:KEPT]:
        valid = item.isascii() and item.isdigit() and len(item) <= _MAX_ID_DIGITS
        if valid and int(item) not in ids:
            ids.append(int(item))
    return ids


def _pushed(ids: list[int], product_id: int) -> list[int]:
    return [product_id, *(i for i in ids if i != product_id)][:KEPT]


def _record_and_read(user_id: int, viewed: int | None) -> list[int]:
    key = _key(user_id)
    pipe = get_redis_connection("state").pipeline(transaction=viewed is not None)
    if viewed is not None:
        pipe.lrem(key, 0, viewed)
        pipe.lpush(key, viewed)
        pipe.ltrim(key, 0, KEPT - 1)
        pipe.expire(key, RECENT_DAYS * 86400)
    pipe.lrange(key, 0, KEPT - 1)
    return [int(i) for i in pipe.execute()[-1]]


def recent_ids(request: HttpRequest) -> list[int]:
    """The visitor's recently viewed product ids, most recent first, with the product of the
    page being answered (`request.viewed_product_id`, set by the catalog's product view)
    recorded first. RedisError if the state Redis is unavailable."""
    if edge.from_edge(request):
        # A page an edge cache keeps for everyone: no visitor's history, and no cookie that
        # would make it private (the view is recorded once the visitor has a cookie).
        return []
    viewed = getattr(request, "viewed_product_id", None)
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        # Read, and this view recorded, with the session in the same round trip (shop/visitor.py)
        # when the session store could: its owner is this user and it knew the product viewed.
        found = getattr(request.session, "prefetched", None)
        if found is not None and found.owner == owner_for_user(user.pk) and found.viewed == viewed:
            return found.recent
        return _record_and_read(user.pk, viewed)
    ids = _cookie_ids(request)
    if viewed is not None:
        ids = _pushed(ids, viewed)
        request.recent_cookie = ids  # written by RecentCookieMiddleware
    return ids


def recent_slot(request: HttpRequest) -> str:
    """The `recent` visitor slot: cards of the visitor's last viewed products, not counting
    the one on the page."""
    try:
        ids = recent_ids(request)
    except RedisError:
        logger.warning("state redis unavailable: recently viewed products left out")
        return ""
    viewed = getattr(request, "viewed_product_id", None)
    cards = product_cards([i for i in ids if i != viewed][:SHOWN])
    if not cards:
        return ""
    return format_html(
        '<section class="recently-viewed" aria-labelledby="recently-viewed">'
        '<h2 id="recently-viewed">Recently viewed</h2><ul class="grid">{}</ul></section>',
        mark_safe("".join(_card(tuple(c.get(f) for f in _CARD_FIELDS)) for c in cards)),
    )


@functools.lru_cache(maxsize=4096)
def _card(fields: tuple) -> str:
    """A card's HTML, rendered once per version of the product's entry (a template render
    per card on every product page would cost more than the rest of a hit)."""
    card = dict(zip(_CARD_FIELDS, fields, strict=True))
    return render_to_string("includes/recent_card.html", {"p": card})


def recent_merge_on_login(request: HttpRequest, user_id: int) -> None:
    """Put the anonymous visitor's cookie ids at the front of the user's list, and have the
    cookie removed. RedisError if the state Redis is unavailable (the cookie is kept)."""
    ids = _cookie_ids(request)
    if not ids:
        return
    key = _key(user_id)
    pipe = get_redis_connection("state").pipeline()
    for product_id in reversed(ids):
        pipe.lrem(key, 0, product_id)
        pipe.lpush(key, product_id)
    pipe.ltrim(key, 0, KEPT - 1)
    pipe.expire(key, RECENT_DAYS * 86400)
    pipe.execute()
    request.recent_cookie = []


class RecentCookieMiddleware:
    """Write the anonymous visitor's `recent` cookie when the request changed the list (a
    product view) or merged it at sign-in (removed)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        ids = getattr(request, "recent_cookie", None)
        if ids is None:
            return response
        value = ".".join(map(str, ids))
        if not value:
            if COOKIE in request.COOKIES:
                response.delete_cookie(COOKIE, samesite="Lax")
        elif value != request.COOKIES.get(COOKIE):
            response.set_cookie(
                COOKIE, value, max_age=RECENT_DAYS * 86400, httponly=True, samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )  # fmt: skip
        return response
