from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_safe
from django_ratelimit.decorators import ratelimit

from inventory.selectors import stock_get_many
from shelf.pages import respond

from . import selectors
from .forms import SearchForm


def _link(params: selectors.SearchParams, **changes) -> str:
    """A results URL for these params with some changed; the page resets unless given."""
    fields = {
        "q": params.query, "category": params.category, "min_price": params.min_price,
        "max_price": params.max_price, "in_stock": "1" if params.in_stock else None,
        "sort": "" if params.sort == "relevance" else params.sort, "page": None,
    } | changes  # fmt: skip
    return "?" + urlencode({k: v for k, v in fields.items() if v not in (None, "")})


@require_safe
@ratelimit(group="search", key="shop.security.rate_key", rate="shop.security.search_rate")
def results(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET)
    valid = form.is_valid()
    if form.has_error("page"):
        raise Http404("No such results page.")
    found = None
    if valid and form.cleaned_data["q"]:
        params = form.params()
        found = selectors.search(params)
        if found is None:
            raise Http404("No such results page.")
    context = {
        "form": form,
        "query": form.cleaned_data.get("q", ""),
        "in_stock": form.cleaned_data.get("in_stock", False),
        "sort": form.cleaned_data.get("sort") or "relevance",
        "found": found,
        "sorts": selectors.SORT_LABELS.items(),
    }
    if found is not None:
        p = found.params
        context |= {
            "facets": [(f, _link(p, category=f.slug)) for f in found.facets],
            "all_categories": _link(p, category=None),
            "prev": _link(p, page=p.page - 1) if p.page > 1 else None,
            "next": _link(p, page=p.page + 1) if p.page < found.pages else None,
            "page_link": _link(p) + "&page=",
        }
    html = render_to_string("search/results.html", context, request=request)
    stock = stock_get_many([card["id"] for card in found.cards]) if found else {}
    return respond(request, html, {"stock": stock})


@require_safe
@ratelimit(group="search", key="shop.security.rate_key", rate="shop.security.search_rate")
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
