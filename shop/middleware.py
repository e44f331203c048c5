import functools
import time
from collections.abc import Callable

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject, CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
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


# What a view or a template can do to change one response's policy (django-csp's decorators
# and its nonce); a response with any of them goes through django-csp's own code.
_PER_RESPONSE = ("_csp_config", "_csp_update", "_csp_replace", "_csp_config_ro",
                 "_csp_update_ro", "_csp_replace_ro", "_csp_exempt", "_csp_exempt_ro")  # fmt: skip


@functools.cache
def _fixed_policies() -> tuple[str, str, tuple[str, ...], tuple[str, ...]]:
    """The policy and the report-only policy from the settings, and their excluded prefixes."""
    enforced = getattr(settings, "CONTENT_SECURITY_POLICY", None) or {}
    report_only = getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None) or {}
    return (
        build_policy(),
        build_policy(report_only=True),
        tuple(enforced.get("EXCLUDE_URL_PREFIXES") or ()),
        tuple(report_only.get("EXCLUDE_URL_PREFIXES") or ()),
    )


def _policy_settings_changed(setting: str, **kwargs) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        _fixed_policies.cache_clear()


setting_changed.connect(_policy_settings_changed, dispatch_uid="shop.middleware.csp")


class PolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, with the policy built once per process instead of per response.

    The shop sends one policy everywhere: no view changes it and no template takes a nonce
    (shared pages are rendered once for everyone). django-csp builds the header again for every
    response, two dataclass conversions and two builds, about a sixth of a shelf hit's own time
    (bench/inprocess.py's profile). A response that does change it (a django-csp decorator, a
    nonce asked for), or DEBUG's error pages, go through django-csp's own code.
    """

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if (
            settings.DEBUG
            or getattr(request, "_csp_nonce", None) is not None
            or any(hasattr(response, name) for name in _PER_RESPONSE)
        ):
            return super().process_response(request, response)
        policy, report_only, excluded, excluded_ro = _fixed_policies()
        path = request.path_info
        if policy and HEADER not in response and not path.startswith(excluded):
            response[HEADER] = policy
        if report_only and HEADER_REPORT_ONLY not in response and not path.startswith(excluded_ro):
            response[HEADER_REPORT_ONLY] = report_only
        # As django-csp does: a nonce asked for after the header was written is an error.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response
