from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_safe
from django_ratelimit.decorators import ratelimit

from shelf.pages import respond

from . import selectors
from .forms import SearchForm


@require_safe
@ratelimit(group="search", key="shop.security.rate_key", rate="shop.security.search_rate")
def results(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET)
    valid = form.is_valid()
    if form.has_error("page"):
        raise Http404("No such results page.")
    if valid and form.cleaned_data["q"]:
        page = selectors.results_page(form.cleaned_data["q"], form.params())
        if page is None:
            raise Http404("No such results page.")
        return respond(request, page.body, {"stock": page.stock})
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
