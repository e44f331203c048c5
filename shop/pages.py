"""Shared pages with per-visitor slots.

Pages are rendered once without a request, so nothing about a visitor can enter them, and
cached. Per-visitor bits are HTML comments filled in at response time: stock badges
(`<!--stock:42-->`) by `respond()`, which knows the page's stock levels, and the visitor's
header, messages and CSRF input (`<!--shelf:nav-->`, `<!--shelf:cart-->`, `<!--shelf:messages-->`,
`<!--shelf:csrf-->`) by VisitorSlotsMiddleware
for every HTML response, cached or not, so there is one way to fill them.
"""

import re
from collections.abc import Callable, Mapping
from typing import Any

from django.contrib.messages import get_messages
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from inventory.selectors import stock_badge_html

_STOCK_SLOT = re.compile(r"<!--stock:(\d+)-->")
_VISITOR_SLOT = re.compile(rb"<!--shelf:(nav|cart|csrf|messages)-->")


def render_shared(template: str, context: Mapping[str, Any]) -> str:
    """Render a page with no request: safe to share between visitors."""
    return render_to_string(template, context)


def respond(
    request: HttpRequest, html: str, stock: Mapping[int, int | None], status: int = 200
) -> HttpResponse:
    """Fill a shared page's stock badges and wrap it in a response."""
    filled = _STOCK_SLOT.sub(lambda m: stock_badge_html(stock.get(int(m.group(1)))), html)
    return HttpResponse(filled, status=status)


def _csrf_input(request: HttpRequest) -> str:
    return format_html(
        '<input type="hidden" name="csrfmiddlewaretoken" value="{}">', get_token(request)
    )


def _nav(request: HttpRequest) -> str:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return format_html(
            '<a href="/orders/">Orders</a> <span class="nav-user">Hi, {}</span> '
            '<form method="post" action="/accounts/logout/" class="inline">{}'
            '<button type="submit" class="link">Log out</button></form>',
            user.get_short_name() or user.get_username(),
            _csrf_input(request),
        )
    return '<a href="/accounts/login/">Sign in</a> <a href="/accounts/signup/">Create account</a>'


def _cart_count(request: HttpRequest) -> str:
    from cart.selectors import cart_count

    return str(cart_count(request))


def _messages(request: HttpRequest) -> str:
    items = [
        format_html('<li class="message {}">{}</li>', m.tags, m) for m in get_messages(request)
    ]
    if not items:
        return ""
    # The list sits in base.html's <div id="messages" role="status">: a role on the <ul> itself
    # would take away its list semantics (axe: "listitem").
    return format_html('<ul class="messages">{}</ul>', mark_safe("".join(items)))


_FILLERS: dict[bytes, Callable[[HttpRequest], str]] = {
    b"nav": _nav,
    b"cart": _cart_count,
    b"csrf": _csrf_input,
    b"messages": _messages,
}


def strip_visitor_slots(html: str) -> str:
    """Empty the visitor slots of a page served without looking at the visitor."""
    return _VISITOR_SLOT.sub(b"", html.encode()).decode()


class VisitorSlotsMiddleware:
    """Fill the visitor's header and CSRF slots of every HTML response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.streaming
            or not response.get("Content-Type", "").startswith("text/html")
            or b"<!--shelf:" not in response.content
        ):
            return response
        filled: dict[bytes, bytes] = {}

        def fill(match: re.Match) -> bytes:
            name = match.group(1)
            if name not in filled:
                filled[name] = _FILLERS[name](request).encode()
            return filled[name]

        response.content = _VISITOR_SLOT.sub(fill, response.content)
        return response
