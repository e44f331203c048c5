import time
from collections.abc import Callable

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers

from . import metrics
from .auth import rights_paths


class RequestMetricsMiddleware:
    """Measure each request: latency and SQL statements go to Prometheus by view name (a
    bounded label set)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        queries = 0

        def count_query(execute, sql, params, many, context):
            nonlocal queries
            queries += 1
            return execute(sql, params, many, context)

        started = time.perf_counter()
        with connection.execute_wrapper(count_query):
            response = self.get_response(request)
        match = request.resolver_match
        view = match.view_name if match else "unmatched"
        metrics.REQUEST_SECONDS.labels(view).observe(time.perf_counter() - started)
        metrics.REQUEST_QUERIES.labels(view).observe(queries)
        return response


# Pages with anything of one visitor's (their name, cart, messages, a CSRF token, a cookie):
# no cache between us and the browser may keep them, nor the browser's own disk cache.
PRIVATE = "private, no-store"
# Pages that are the same for everyone (product JSON, sitemaps): a shared cache may store them
# but must ask us every time, so a price change is seen as soon as the shelf sees it.
SHARED = "no-cache"


class CacheControlMiddleware:
    """Give every response an explicit Cache-Control: PRIVATE when it carries visitor data.

    A response carries visitor data when the request read the session (the signed-in user,
    the cart, messages), put a CSRF token in the page, or the response sets a cookie; the admin and
    the password pages are private whatever they hold (a redirect too). Those
    are marked PRIVATE even if a view asked for more caching. Any other response keeps the
    view's own policy, or gets SHARED. Listed above SessionMiddleware and CsrfViewMiddleware,
    so it sees the cookies they set.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if getattr(response, "shelf_edge", False):
            # The same for every visitor without cookies (shelf.edge.EdgeMiddleware checked):
            # the session it read was the empty one.
            response["Cache-Control"] = SHARED
            return response
        session = getattr(request, "session", None)
        private = (
            (session is not None and session.accessed)
            or bool(response.cookies)
            or getattr(request, "shelf_visitor_data", False)  # e.g. a CSRF token (shelf.pages)
            or request.path.startswith(rights_paths())
        )
        if private:
            response["Cache-Control"] = PRIVATE
            response.headers.pop("Expires", None)
            patch_vary_headers(response, ("Cookie",))
        elif not response.has_header("Cache-Control"):
            response["Cache-Control"] = SHARED
        return response
