"""Shared pages with slots, so that one rendered page can serve every visitor.

Pages are rendered once without a request, so nothing about a visitor can enter them, and
cached. What differs is left as HTML comments and filled at response time:

- entry slots, `<!--<name>:<id>-->` (e.g. `<!--stock:42-->`): filled by `respond()` from the
  values the page's own read brought along (stock levels read in the same round trip);
- visitor slots, `<!--shelf:<name>-->` (the header's account links and cart count, messages,
  CSRF inputs): filled by VisitorSlotsMiddleware for every HTML response, cached or not, so
  there is one way to fill them.

The toolkit fills `csrf` and `messages` itself; apps register the other slots' fillers from
their AppConfig.ready() (`register_entry_slot`, `register_visitor_slot`). A slot with no
filler is left as it is (an HTML comment, invisible).
"""

import re
from collections.abc import Callable, Mapping
from typing import Any

from django.contrib.messages import get_messages
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils.html import format_html
from django.utils.safestring import mark_safe

EntryFiller = Callable[[Any], str]
VisitorFiller = Callable[[HttpRequest], str]

_entry_fillers: dict[str, EntryFiller] = {}
_visitor_fillers: dict[bytes, VisitorFiller] = {}
_patterns: dict[str, re.Pattern] = {}


def register_entry_slot(name: str, fill: EntryFiller) -> None:
    """Fill `<!--name:<id>-->` with `fill(value)`, the value `respond()` got for that id."""
    _entry_fillers[name] = fill
    _patterns.pop("entry", None)


def register_visitor_slot(name: str, fill: VisitorFiller) -> None:
    """Fill `<!--shelf:name-->` with `fill(request)` in every HTML response."""
    _visitor_fillers[name.encode()] = fill
    _patterns.pop("visitor", None)


def _entry_pattern() -> re.Pattern:
    if "entry" not in _patterns:
        names = "|".join(map(re.escape, _entry_fillers)) or "(?!)"
        _patterns["entry"] = re.compile(rf"<!--({names}):(\d+)-->")
    return _patterns["entry"]


def _visitor_pattern() -> re.Pattern:
    if "visitor" not in _patterns:
        names = b"|".join(map(re.escape, _visitor_fillers)) or b"(?!)"
        _patterns["visitor"] = re.compile(rb"<!--shelf:(" + names + rb")-->")
    return _patterns["visitor"]


def render_shared(template: str, context: Mapping[str, Any]) -> str:
    """Render a page with no request: safe to share between visitors."""
    return render_to_string(template, context)


def respond(
    request: HttpRequest,
    html: str,
    values: Mapping[str, Mapping[int, Any]],
    status: int = 200,
) -> HttpResponse:
    """Fill a shared page's entry slots from `values` ({slot name: {id: value}}) and wrap it
    in a response; an id with no value gets the filler's answer for None."""

    def fill(match: re.Match) -> str:
        name = match.group(1)
        return _entry_fillers[name](values.get(name, {}).get(int(match.group(2))))

    return HttpResponse(_entry_pattern().sub(fill, html), status=status)


def page_number(raw: str | None, max_digits: int = 6) -> int:
    """The page a `?page=` asks for: ASCII digits only, else a 404 (never a 500).

    str.isdigit() alone accepts "²" and "①", which int() refuses; int() and float() accept
    Arabic-Indic and full-width digits, which no link of ours writes.
    """
    if raw in (None, ""):
        return 1
    if not (raw.isascii() and raw.isdigit()) or len(raw) > max_digits or int(raw) < 1:
        raise Http404("No such page.")
    return int(raw)


def csrf_input(request: HttpRequest) -> str:
    """The hidden CSRF input of a form (the `csrf` slot; fillers that render a form use it)."""
    return format_html(
        '<input type="hidden" name="csrfmiddlewaretoken" value="{}">', get_token(request)
    )


def _messages(request: HttpRequest) -> str:
    items = [
        format_html('<li class="message {}">{}</li>', m.tags, m) for m in get_messages(request)
    ]
    if not items:
        return ""
    # The list sits in base.html's <div id="messages" role="status">: a role on the <ul> itself
    # would take away its list semantics (axe: "listitem").
    return format_html('<ul class="messages">{}</ul>', mark_safe("".join(items)))


register_visitor_slot("csrf", csrf_input)
register_visitor_slot("messages", _messages)


def strip_visitor_slots(html: str) -> str:
    """Empty the visitor slots of a page served without looking at the visitor."""
    return _visitor_pattern().sub(b"", html.encode()).decode()


class VisitorSlotsMiddleware:
    """Fill the visitor slots of every HTML response."""

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
                filled[name] = _visitor_fillers[name](request).encode()
            return filled[name]

        response.content = _visitor_pattern().sub(fill, response.content)
        return response
