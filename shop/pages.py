"""Shared pages with per-visitor slots.

Pages are rendered once without a request, so nothing about a visitor can enter them, and
cached. Per-visitor bits are HTML comments (`<!--shelf:csrf-->`, `<!--shelf:nav-->`,
`<!--shelf:cart-->`, `<!--stock:42-->`) filled in at response time by one regex pass; every
page, cached or not, goes through `respond()` so there is one way to fill them.
"""

import re
from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils.html import format_html

from inventory.selectors import stock_badge_html

_SLOT = re.compile(r"<!--(shelf:\w+|stock:\d+)-->")


def render_shared(template: str, context: Mapping[str, Any]) -> str:
    """Render a page with no request: safe to share between visitors."""
    return render_to_string(template, context)


def _nav(request: HttpRequest, csrf_input: str) -> str:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return format_html(
            '<span class="nav-user">Hi, {}</span>'
            '<form method="post" action="/accounts/logout/" class="inline">{}'
            '<button type="submit" class="link">Log out</button></form>',
            user.get_short_name() or user.get_username(),
            csrf_input,
        )
    return '<a href="/accounts/login/">Sign in</a>'


def respond(
    request: HttpRequest,
    html: str,
    stock: Mapping[int, int | None] | None = None,
    status: int = 200,
) -> HttpResponse:
    """Fill a shared page's visitor slots for `request` and wrap it in a response."""
    slots: dict[str, str] = {}

    def fill(match: re.Match) -> str:
        name = match.group(1)
        if name.startswith("stock:"):
            return stock_badge_html((stock or {}).get(int(name[6:])))
        if name not in slots:
            if name == "shelf:csrf":
                slots[name] = format_html(
                    '<input type="hidden" name="csrfmiddlewaretoken" value="{}">',
                    get_token(request),
                )
            elif name == "shelf:nav":
                slots[name] = _nav(request, fill_csrf())
            elif name == "shelf:cart":
                slots[name] = str(cart_count(request))
            else:
                slots[name] = ""
        return slots[name]

    def fill_csrf() -> str:
        return fill(_SLOT.match("<!--shelf:csrf-->"))

    return HttpResponse(_SLOT.sub(fill, html), status=status)


def render_page(
    request: HttpRequest, template: str, context: Mapping[str, Any], status: int = 200
) -> HttpResponse:
    """Render a page that is not shared (forms, cart, checkout) through the same slots."""
    return respond(request, render_to_string(template, context, request=request), status=status)


def cart_count(request: HttpRequest) -> int:
    """The number of items in the visitor's cart, for the header badge."""
    return 0
