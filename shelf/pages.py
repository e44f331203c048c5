"""Shared pages with slots, so that one rendered page can serve every visitor.

Pages are rendered once without a request, so nothing about a visitor can enter them, and
cached. What differs is left as HTML comments and filled at response time:

- entry slots, `<!--<name>:<id>-->` (e.g. `<!--stock:42-->`): filled by `respond()` from the
  values the page's own read brought along (stock levels read in the same round trip);
- visitor slots, `<!--shelf:<name>-->` (the header's account links and cart count, messages,
  CSRF inputs): filled by `respond()` for a shared page, and by VisitorSlotsMiddleware for
  every other HTML response.

A shared page read from the shelf is split at its slots once (`prepare_page`, the namespace's
`prepare`: once per process for a page held in L1), so a hit joins its parts and fillers
without scanning the page.

The toolkit fills `csrf` and `messages` itself; apps register the other slots' fillers from
their AppConfig.ready() (`register_entry_slot`, `register_visitor_slot`). A slot with no
filler is left as it is (an HTML comment, invisible). What every shared page's context holds
(the site's name) is registered the same way (`register_shared_context`).
"""

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.messages import get_messages
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH, get_token
from django.template.loader import render_to_string
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from . import edge

EntryFiller = Callable[[Any], str]
VisitorFiller = Callable[[HttpRequest], str]

_entry_fillers: dict[str, EntryFiller] = {}
_visitor_fillers: dict[bytes, VisitorFiller] = {}
_shared_context: list[Callable[[], Mapping[str, Any]]] = []
_patterns: dict[str, re.Pattern] = {}


def register_entry_slot(name: str, fill: EntryFiller) -> None:
    """Fill `<!--name:<id>-->` with `fill(value)`, the value `respond()` got for that id."""
    _entry_fillers[name] = fill
    _patterns.clear()


def register_visitor_slot(name: str, fill: VisitorFiller) -> None:
    """Fill `<!--shelf:name-->` with `fill(request)` in every HTML response."""
    _visitor_fillers[name.encode()] = fill
    _patterns.clear()


def register_shared_context(provide: Callable[[], Mapping[str, Any]]) -> None:
    """Add `provide()` to the context of every shared page: values the same for every visitor
    (the site's name) that pages rendered per request get from a context processor, which a
    render without a request does not run."""
    _shared_context.append(provide)


def _slot_pattern() -> re.Pattern:
    """Either kind of slot: group 1 a visitor slot's name, groups 2 and 3 an entry slot's."""
    if "slot" not in _patterns:
        visitor = "|".join(re.escape(n.decode()) for n in _visitor_fillers) or "(?!)"
        entry = "|".join(map(re.escape, _entry_fillers)) or "(?!)"
        _patterns["slot"] = re.compile(rf"<!--(?:shelf:({visitor})|({entry}):(\d+))-->")
    return _patterns["slot"]


class SplitPage:
    """A shared page cut at its slots: literal text, `(name, id)` for an entry slot and
    `(name,)` for a visitor slot, in page order."""

    __slots__ = ("parts",)

    def __init__(self, html: str) -> None:
        parts: list[str | tuple] = []
        at = 0
        for match in _slot_pattern().finditer(html):
            parts.append(html[at : match.start()])
            visitor, entry, ident = match.groups()
            parts.append((visitor,) if visitor else (entry, int(ident)))
            at = match.end()
        parts.append(html[at:])
        self.parts = tuple(p for p in parts if p != "")

    def __str__(self) -> str:
        """The page as rendered, slots included."""
        return "".join(
            p if p.__class__ is str else (f"<!--shelf:{p[0]}-->" if len(p) == 1 else
                                          f"<!--{p[0]}:{p[1]}-->")
            for p in self.parts
        )  # fmt: skip

    def __contains__(self, text: str) -> bool:
        return text in str(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SplitPage) and other.parts == self.parts

    __hash__ = None


@dataclass(frozen=True)
class Page:
    """A shared page split at its slots, and the values of its entry slots by slot name
    ({"stock": {product id: units}}), as `respond()` takes them."""

    body: SplitPage
    values: Mapping[str, Mapping[int, Any]]

    @property
    def html(self) -> str:
        """The page as rendered, slots unfilled."""
        return str(self.body)


def prepare_page(value: dict) -> dict:
    """A page entry's `prepare` (shelf.Namespace): its `html` split at the slots. An entry of
    the namespace that holds no page (a redirect, say) is kept as it is."""
    if "html" not in value:
        return value
    return {**value, "html": SplitPage(value["html"])}


def _visitor_pattern() -> re.Pattern:
    if "visitor" not in _patterns:
        names = b"|".join(map(re.escape, _visitor_fillers)) or b"(?!)"
        _patterns["visitor"] = re.compile(rb"<!--shelf:(" + names + rb")-->")
    return _patterns["visitor"]


def render_shared(template: str, context: Mapping[str, Any]) -> str:
    """Render a page with no request: safe to share between visitors."""
    shared: dict[str, Any] = {}
    for provide in _shared_context:
        shared.update(provide())
    return render_to_string(template, {**shared, **context})


def respond(
    request: HttpRequest,
    html: str | SplitPage,
    values: Mapping[str, Mapping[int, Any]],
    status: int = 200,
) -> HttpResponse:
    """Fill a shared page's slots and wrap it in a response: entry slots from `values`
    ({slot name: {id: value}}; an id with no value gets the filler's answer for None), visitor
    slots for this request."""
    page = html if isinstance(html, SplitPage) else SplitPage(html)
    out: list[str] = []
    filled: dict[tuple, str] = {}
    for part in page.parts:
        if part.__class__ is str:
            out.append(part)
            continue
        if part not in filled:  # a slot may appear more than once: fill it once
            if len(part) == 1:
                filled[part] = _visitor_fillers[part[0].encode()](request)
            else:
                filled[part] = _entry_fillers[part[0]](values.get(part[0], {}).get(part[1]))
        out.append(filled[part])
    response = HttpResponse("".join(out), status=status)
    response.shelf_slots_filled = True
    return response


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


_CSRF_INDEX = {c: i for i, c in enumerate(CSRF_ALLOWED_CHARS)}
_N = len(CSRF_ALLOWED_CHARS)
# Random bytes to CSRF characters: bytes below 4 x 62 map evenly, the 8 above are dropped.
_EVEN = _N * (256 // _N)
_BYTE_TO_CHAR = bytes(ord(CSRF_ALLOWED_CHARS[b % _N]) for b in range(_EVEN)) + bytes(256 - _EVEN)
_UNEVEN = bytes(range(_EVEN, 256))


def _random_csrf_string() -> str:
    chars = ""
    while len(chars) < CSRF_SECRET_LENGTH:
        chars += os.urandom(CSRF_SECRET_LENGTH + 8).translate(_BYTE_TO_CHAR, _UNEVEN).decode()
    return chars[:CSRF_SECRET_LENGTH]


def csrf_token(request: HttpRequest) -> str:
    """The CSRF token for a form of this page, as django.middleware.csrf.get_token makes it (the
    visitor's secret, masked anew for each response) with two differences: the random strings
    come from one os.urandom call each instead of one secrets.choice() per character, and the
    cookie is sent only to a visitor who does not have it yet, not again with every page
    (Django re-sends it to renew its year-long expiry; a visitor whose cookie expired gets a new
    one). Both were a fifth of a cached page's cost. The response is marked as holding visitor
    data (`shelf_visitor_data`), so that no shared cache keeps it."""
    request.shelf_visitor_data = True
    secret = request.META.get("CSRF_COOKIE")
    if secret is None:
        secret = _random_csrf_string()
        request.META["CSRF_COOKIE"] = secret
        request.META["CSRF_COOKIE_NEEDS_UPDATE"] = True
    if len(secret) != CSRF_SECRET_LENGTH:
        return get_token(request)
    if settings.CSRF_COOKIE_NAME not in request.COOKIES:
        # A cookie the middleware replaced (it was malformed): send the new one.
        request.META["CSRF_COOKIE_NEEDS_UPDATE"] = True
    mask = _random_csrf_string()
    index = _CSRF_INDEX
    cipher = "".join(
        CSRF_ALLOWED_CHARS[(index[x] + index[y]) % _N] for x, y in zip(secret, mask, strict=True)
    )
    return mask + cipher


# The CSRF input of a page an edge cache keeps for everyone: no token; the page's script
# fetches one at the first use of a form (shelf/edge.py).
EDGE_CSRF_INPUT = mark_safe('<input type="hidden" name="csrfmiddlewaretoken" value="">')


def csrf_input(request: HttpRequest) -> str:
    """The hidden CSRF input of a form (the `csrf` slot; fillers that render a form use it)."""
    if edge.from_edge(request):
        return EDGE_CSRF_INPUT
    return format_html(
        '<input type="hidden" name="csrfmiddlewaretoken" value="{}">', csrf_token(request)
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
            getattr(response, "shelf_slots_filled", False)
            or response.streaming
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
