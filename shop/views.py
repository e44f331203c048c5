import sys

from django.conf import settings
from django.db.utils import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string

from shelf.pages import strip_visitor_slots

# Seconds a client is asked to wait before retrying while PostgreSQL is away.
RETRY_AFTER = 30
# The JSON API's URLs: its clients get JSON errors, not the shop's HTML pages.
API_PREFIX = "/api/"


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """The shop's 404 page, with the visitor's header like every other page; JSON for the API."""
    if is_api(request):
        return JsonResponse({"error": "not found"}, status=404)
    return render(request, "404.html", {}, status=404)


def _database_unavailable(exc: BaseException | None) -> bool:
    """Whether `exc` (or what caused it) is PostgreSQL being unreachable or gone.

    OperationalError also covers a deadlock or a statement cancelled by the server: transient
    too, and "try again in a moment" is the right answer to those as well.
    """
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OperationalError | InterfaceError):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: the shop's 503 page when PostgreSQL cannot be reached, else a plain 500.

    Django calls this for an exception raised anywhere in the request, in a view or in a
    middleware (the session's save, the visitor's header), while the exception is being
    handled, so `sys.exc_info()` still holds it. A middleware's process_exception would see
    only the views' exceptions. The page is rendered without the request and with the
    visitor slots emptied: filling them (user, session, cart) may need the database too.
    """
    if _database_unavailable(sys.exc_info()[1]):
        return database_unavailable(request)
    if is_api(request):
        return JsonResponse({"error": "server error"}, status=500)
    return HttpResponseServerError(render_to_string("500.html"))


def database_unavailable(request: HttpRequest) -> HttpResponse:
    """503 in the shop's own look (JSON for the API), with no visitor data and no traceback."""
    if is_api(request):
        response: HttpResponse = JsonResponse(
            {"error": "temporarily unavailable", "retry_after": RETRY_AFTER}, status=503
        )
    else:
        response = HttpResponse(
            strip_visitor_slots(render_to_string("503.html", {"SITE_NAME": settings.SITE_NAME})),
            status=503,
        )
    response["Retry-After"] = str(RETRY_AFTER)
    response["Cache-Control"] = "no-store"
    return response
