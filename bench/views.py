"""The ceiling views of the benchmark, served by the same gunicorn as the shop.

`bare` is Django alone (middleware, URL resolving, a response; no database, no cache);
`prerendered` returns one finished page stored in the cache Redis by the benchmark (one GET).
A shop page can be read as a fraction of these. Reachable only through config.urls_bench.
"""

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from shelf import backend

PRERENDERED_KEY = "bench:prerendered"
BARE_HTML = "<!doctype html><title>bare</title><p>Django, nothing else.</p>"


@require_safe
def bare(request: HttpRequest) -> HttpResponse:
    return HttpResponse(BARE_HTML)


@require_safe
def prerendered(request: HttpRequest) -> HttpResponse:
    page = backend.client().get(PRERENDERED_KEY)
    if page is None:
        return HttpResponse("run the benchmark's preparation first", status=503)
    return HttpResponse(page)
