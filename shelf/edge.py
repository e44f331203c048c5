"""Shared pages at an HTTP edge cache (Varnish, docker/varnish/shelf.vcl), kept exact by purges.

What the edge may keep
----------------------
The edge sends a request on with `X-Shelf-Edge: 1` only when the visitor has no cookie but
Django's CSRF cookie (which it drops): the app then answers as for any first-time visitor. Such a
response is marked for the edge (`xkey` header: the shelf tags of every entry the request read,
space-separated; `X-Shelf-Edge-TTL`) only when the view is one of the shared pages
(`@edge.shared`), it is a 200, it read at least one tagged entry, and it carries nothing of one
visitor: no cookie set, no CSRF token minted (`shelf_visitor_data`). Everything else (a POST,
any cookie-bound slot, the admin, an account page) passes through the edge untouched. The
visitor slots of a page for the edge are those of a visitor without cookies (signed out, an
empty cart, no messages) and its CSRF inputs are empty: the page's script fetches a token at the
first use of a form (`/csrf/`), and a form sent without one gets a page that asks to confirm it
with a token of its own (shop.views.csrf_failure), so a shopper without JavaScript still buys.

Freshness
---------
The same path that bumps tags after commit purges them at every edge of SHELF_EDGE_CACHES
(`purge_after_bump`, called by shelf.core.bump once Redis took the bump, and by the outbox drain
once it bumped what Redis missed: never before Redis, or an edge could fetch the old page from
the shelf again). A request that starts after the save's response was sent therefore misses at
the edge and gets the new page; one whose fetch was in flight during the purge may carry the old
page, and the edge keeps no such response (the VCL counts purges, and keeps a response only if
the count did not move during its fetch). An edge that refuses or does not answer within
SHELF_EDGE_TIMEOUT gets its purge from the durable outbox (`shop_pendingbump` rows naming the
edge) at the next beat drain (SHELF_OUTBOX_DRAIN), until it answers: until then it may serve the
old page.
"""

from __future__ import annotations

import http.client
import logging
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from functools import wraps

from django.conf import settings
from django.db import DatabaseError, transaction
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger("shelf")

# Set by the edge on the requests it may answer for everyone (the VCL drops a client's own).
EDGE_HEADER = "HTTP_X_SHELF_EDGE"
# An xkey header longer than this is sent in several PURGE requests (Varnish refuses a request
# header over 8 KB by default).
PURGE_HEADER_MAX = 6000
DRAIN_BATCH = 500

# The tags read during the current request, when it came from the edge; None otherwise (then
# noting a read costs one ContextVar lookup).
_read: ContextVar[set[str] | None] = ContextVar("shelf_edge_tags", default=None)


def note(tags: Iterable[str]) -> None:
    """Record tags the current request's page depends on (shelf.core calls it for each read)."""
    seen = _read.get()
    if seen is not None:
        seen.update(tags)


def note_keys(raw: Mapping[str, object], prefix: str) -> None:
    """note() the tags among a read's keys (`prefix` + tag), if the request came from the edge."""
    seen = _read.get()
    if seen is not None:
        cut = len(prefix)
        seen.update(k[cut:] for k in raw if k.startswith(prefix))


def from_edge(request: HttpRequest) -> bool:
    """Whether this request may be answered for every visitor: it came through the edge as
    shareable, with no cookie at all."""
    return EDGE_HEADER in request.META and not request.COOKIES


def shared(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Mark a view's pages as the same for every visitor without cookies: the edge may keep
    them (see the module docstring for the other conditions)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response.shelf_edge_shared = True
        return response

    return wrapper


class EdgeMiddleware:
    """Collect the tags a request from the edge reads; give a shareable response its `xkey`.

    Listed just below shop's CacheControlMiddleware and above the session and CSRF middleware,
    so that it sees the cookies they set; the CacheControl middleware then gives a response
    marked `shelf_edge` the shared policy instead of the private one (the session it touched
    was the empty one of a visitor without cookies).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not from_edge(request):
            return self.get_response(request)
        seen: set[str] = set()
        token = _read.set(seen)
        try:
            response = self.get_response(request)
        finally:
            _read.reset(token)
        if (
            seen
            and response.status_code == 200
            and getattr(response, "shelf_edge_shared", False)
            and request.method in ("GET", "HEAD")
            and not response.cookies
            and not getattr(request, "shelf_visitor_data", False)
        ):
            response["xkey"] = " ".join(sorted(seen))
            response["X-Shelf-Edge-TTL"] = str(settings.SHELF_EDGE_TTL)
            response.shelf_edge = True
        return response


# PURGES
# ------------------------------------------------------------------------------------------------
def _batches(tags: list[str]) -> Iterable[str]:
    batch: list[str] = []
    size = 0
    for tag in tags:
        if batch and size + len(tag) + 1 > PURGE_HEADER_MAX:
            yield " ".join(batch)
            batch, size = [], 0
        batch.append(tag)
        size += len(tag) + 1
    if batch:
        yield " ".join(batch)


def send_purge(edge: str, tags: list[str]) -> None:
    """PURGE `tags` at `edge` (its base URL); raises OSError or HTTPException if it failed."""
    url = urllib.parse.urlsplit(edge)
    connection = http.client.HTTPConnection(
        url.hostname, url.port or 80, timeout=settings.SHELF_EDGE_TIMEOUT
    )
    try:
        for header in _batches(tags):
            connection.request("PURGE", url.path or "/", headers={"xkey": header})
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise http.client.HTTPException(f"PURGE answered {response.status}")
    finally:
        connection.close()


def _record(edge: str, tags: list[str]) -> None:
    from .models import PendingBump

    try:
        PendingBump.objects.create(tags=tags, edge=edge)
    except DatabaseError:
        logger.error("edge purge lost: %s and PostgreSQL unreachable (tags %s)", edge, tags[:10])
        return
    logger.warning("edge purge deferred to the outbox", extra={"edge": edge, "tags": tags[:10]})


def purge_after_bump(tags: Iterable[str], started: float | None = None) -> None:
    """Purge `tags` at every edge, now that Redis has their new versions; an edge that fails
    gets them from the outbox. `started` (perf_counter) is when the bump began, for the
    commit-to-purge latency."""
    edges = settings.SHELF_EDGE_CACHES
    if not edges:
        return
    from . import metrics

    tags = list(dict.fromkeys(tags))
    for edge in edges:
        try:
            send_purge(edge, tags)
        except (OSError, http.client.HTTPException) as error:
            logger.warning("edge purge failed", extra={"edge": edge, "error": str(error)})
            _record(edge, tags)
            continue
        if started is not None:
            metrics.EDGE_PURGE_SECONDS.observe(time.perf_counter() - started)


def drain(batch: int = DRAIN_BATCH) -> int:
    """Send the purges the outbox holds for edges that answer again; return rows done.

    Called by the beat drain after the Redis bumps it applied, so a purge never precedes the
    bump it follows. A row whose edge still fails stays for the next drain.
    """
    from .models import PendingBump

    done = 0
    try:
        with transaction.atomic():
            rows = list(
                PendingBump.objects.select_for_update(skip_locked=True)
                .exclude(edge="")
                .order_by("id")[:batch]
            )
            by_edge: dict[str, list[PendingBump]] = {}
            for row in rows:
                by_edge.setdefault(row.edge, []).append(row)
            for edge, edge_rows in by_edge.items():
                try:
                    send_purge(edge, list(dict.fromkeys(t for r in edge_rows for t in r.tags)))
                except (OSError, http.client.HTTPException):
                    continue  # still down: the rows wait for the next drain
                PendingBump.objects.filter(pk__in=[r.pk for r in edge_rows]).delete()
                done += len(edge_rows)
    except DatabaseError:
        logger.warning("shelf outbox unreadable: pending edge purges wait for PostgreSQL")
    if done:
        logger.info("edge purges drained", extra={"rows": done})
    return done
