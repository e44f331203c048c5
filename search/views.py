import functools

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_safe
from django_ratelimit.decorators import ratelimit

from shelf import edge
from shelf.pages import respond

from . import selectors
from .forms import SearchForm


def _search_in(data: QueryDict) -> tuple[str, selectors.SearchParams] | None:
    """(the query as shown, the search) the parameters ask for, or None if they ask for no
    search (empty, invalid)."""
    form = SearchForm(data)
    if form.is_valid() and form.cleaned_data["q"]:
        return form.cleaned_data["q"], form.params()
    return None


@functools.lru_cache(maxsize=4096)
def _search_of(query_string: bytes) -> tuple[str, selectors.SearchParams] | None:
    """_search_in for a raw query string, kept per process for the query strings seen most
    recently, so that a hit validates no form (bounded: junk costs no more than a miss)."""
    return _search_in(QueryDict(query_string))


@require_safe
@ratelimit(group="search", key="shop.security.rate_key", rate="shop.security.search_rate")
@edge.shared
def results(request: HttpRequest) -> HttpResponse:
    try:
        # The query string's bytes, as request.GET reads them (WSGI hands them over as latin-1).
        search = _search_of(request.META.get("QUERY_STRING", "").encode("latin-1"))
    except UnicodeEncodeError:  # not from a WSGI server
        search = _search_in(request.GET)
    if search is not None:
        page = selectors.results_page(*search)
        if page is None:
            raise Http404("No such results page.")
        return respond(request, page.body, page.values)
    form = SearchForm(request.GET)
    form.is_valid()
    if form.has_error("page"):
        raise Http404("No such results page.")
    # The prompt for an empty query, or the form's errors: not cached, and it shows the raw
    # values back so that the shopper can correct them.
    context = {
        "errors": form.errors,
        "query": form.cleaned_data.get("q", ""),
        "category": form["category"].value() or "",
        "min_price": form["min_price"].value() or "",
        "max_price": form["max_price"].value() or "",
        "in_stock": form.cleaned_data.get("in_stock", False),
        "sort": form.cleaned_data.get("sort") or "relevance",
        "sorts": selectors.SORT_LABELS.items(),
    }
    return respond(request, render_to_string("search/results.html", context, request=request), {})


@require_safe
@ratelimit(group="search", key="shop.security.rate_key", rate="shop.security.search_rate")
@edge.shared
def api(request: HttpRequest) -> JsonResponse:
    form = SearchForm(request.GET)
    if not form.is_valid():
        if form.has_error("page"):
            return JsonResponse({"error": "No such results page."}, status=404)
        return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
    params = form.params()
    found = selectors.search(params)
    if found is None:
        return JsonResponse({"error": "No such results page."}, status=404)
    return JsonResponse(
        {
            "query": params.query,
            "page": params.page,
            "total": found.total,
            "corrected": found.corrected,
            "results": [
                {
                    "id": card["id"],
                    "name": card["name"],
                    "price": card["price"],
                    "url": reverse("catalog:product", kwargs={"slug": card["slug"]}),
                    "image": card["image"],
                }
                for card in found.cards
            ],
        }
    )
