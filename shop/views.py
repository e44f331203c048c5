import sys

from django.db.utils import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseServerError, JsonResponse
from django.middleware.csrf import REASON_CSRF_TOKEN_MISSING, REASON_NO_CSRF_COOKIE
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views.decorators.http import require_safe

from shelf.pages import csrf_token, strip_visitor_slots

from .context_processors import site_values

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
    return HttpResponseServerError(render_to_string("500.html", site_values()))


def database_unavailable(request: HttpRequest) -> HttpResponse:
    """503 in the shop's own look (JSON for the API), with no visitor data and no traceback."""
    if is_api(request):
        response: HttpResponse = JsonResponse(
            {"error": "temporarily unavailable", "retry_after": RETRY_AFTER}, status=503
        )
    else:
        response = HttpResponse(
            strip_visitor_slots(render_to_string("503.html", site_values())),
            status=503,
        )
    response["Retry-After"] = str(RETRY_AFTER)
    response["Cache-Control"] = "no-store"
    return response


@require_safe
def csrf(request: HttpRequest) -> JsonResponse:
    """A CSRF token for the forms of a page an edge cache keeps for everyone (shelf/edge.py),
    which carries none: the page's script asks for it at the first use of a form. Private, and
    it sets the CSRF cookie for a visitor who has none."""
    return JsonResponse({"token": csrf_token(request)})


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW. A form sent without a token, as from a page kept for everyone by the
    edge cache by a browser without JavaScript, gets a page that asks to send it again, now with
    a token of the visitor's own; nothing was done yet. Any other failure (a wrong token, a
    foreign origin) gets Django's refusal. Both are 403."""
    if reason not in (REASON_NO_CSRF_COOKIE, REASON_CSRF_TOKEN_MISSING) or request.POST.get(
        "csrfmiddlewaretoken"
    ):
        from django.views.csrf import csrf_failure as refuse

        return refuse(request, reason)
    fields = [
        (name, value)
        for name, values in request.POST.lists()
        if name != "csrfmiddlewaretoken"
        for value in values
    ]
    return render(
        request, "confirm_form.html", {"action": request.get_full_path(), "fields": fields},
        status=403,
    )
