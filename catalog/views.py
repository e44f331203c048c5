from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from shelf import edge
from shelf.pages import page_number, respond

from . import selectors


@require_safe
@edge.shared
def home(request: HttpRequest) -> HttpResponse:
    page = selectors.home_page()
    return respond(request, page.body, page.values)


@require_safe
@edge.shared
def category(request: HttpRequest, slug: str) -> HttpResponse:
    # A filter value we do not offer is a 404, never a new entry; unknown parameters are
    # ignored, and the key puts the rest in one order, so equivalent URLs share a page.
    filters = selectors.Filters.parse(request.GET)
    if filters is None:
        raise Http404("No such filter.")
    sort = request.GET.get("sort", "")
    page = selectors.category_page(slug, sort, page_number(request.GET.get("page")), filters)
    if page is None:
        raise Http404("No such category page.")
    return respond(request, page.body, page.values)


@require_safe
@edge.shared
def product(request: HttpRequest, slug: str) -> HttpResponse:
    page = selectors.product_page(slug)
    if page is None:
        raise Http404("No such product.")
    # For the visitor slots filled below (the shop's recently viewed list records it).
    request.viewed_product_id = page.product_id
    return respond(request, page.body, page.values)


@require_safe
def product_reviews(request: HttpRequest, slug: str) -> HttpResponse:
    page = selectors.review_page(slug, page_number(request.GET.get("page")))
    if page is None:
        raise Http404("No such page of reviews.")
    return respond(request, page.body, page.values)


@require_safe
@edge.shared
def api_product(request: HttpRequest, product_id: int) -> JsonResponse:
    found = selectors.product_get(product_id)
    if found is None:
        return JsonResponse({"error": "not found"}, status=404)
    return JsonResponse({k: v for k, v in found.items() if k != "tier"})


@require_safe
@cache_control(public=True, max_age=365 * 24 * 3600, immutable=True)
def image(request: HttpRequest, image_id: int, hue: int) -> HttpResponse:
    """A placeholder picture drawn from the URL alone: no query, cacheable forever."""
    if hue > 359:
        raise Http404("No such image.")
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 400 400" role="img">'
        f'<rect width="400" height="400" fill="hsl({hue},45%,88%)"/>'
        f'<circle cx="200" cy="170" r="{70 + image_id % 40}" fill="hsl({hue},55%,62%)"/>'
        f'<rect x="90" y="280" width="220" height="26" rx="13" fill="hsl({hue},35%,72%)"/>'
        "</svg>"
    )
    return HttpResponse(svg, content_type="image/svg+xml")
