from django.conf import settings
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponsePermanentRedirect,
    JsonResponse,
)
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe
from django.views.static import serve

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
    # The variant asked for, if any (?variant=<sku>, or one parameter per option); values
    # the product does not have choose its default variant and are never stored.
    page = selectors.product_page(slug, request.GET.dict())
    if page is None:
        raise Http404("No such product.")
    if isinstance(page, selectors.VariantRedirect):
        return HttpResponsePermanentRedirect(page.url)
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
@edge.shared
def api_category(request: HttpRequest, slug: str) -> JsonResponse:
    """The category page's listing as JSON, with the same filters, sort and page, from the
    same shelf entry. A value we do not offer is a 400 that stores nothing, as on the page
    (which answers 404: a page has no other way to say it)."""
    filters = selectors.Filters.parse(request.GET)
    sort = request.GET.get("sort", "")
    if filters is None or sort not in selectors.SORTS:
        return JsonResponse({"error": "No such filter or sort."}, status=400)
    page = page_number(request.GET.get("page"))
    found = selectors.category_listing(slug, sort, page, filters)
    if found is None:
        return JsonResponse({"error": "No such category page."}, status=404)
    stock = found["stock"]
    return JsonResponse(
        {
            "category": found["category"],
            "filters": {"brand": filters.brand, "price": filters.price,
                        "rating": filters.rating, "in_stock": filters.in_stock},
            "sort": sort,
            "page": page,
            "pages": found["pages"],
            "total": found["total"],
            "facets": found["facets"],
            "results": [
                {
                    "id": card["id"],
                    "name": card["name"],
                    "brand": card["brand"],
                    "price": card["price"],
                    "rating": card["rating"],
                    "reviews": card["reviews"],
                    "in_stock": (stock.get(card["id"]) or 0) > 0,
                    "url": reverse("catalog:product", kwargs={"slug": card["slug"]}),
                    "image": card["image"],
                }
                for card in found["cards"]
            ],
        }
    )  # fmt: skip


@require_safe
@cache_control(public=True, max_age=365 * 24 * 3600, immutable=True)
def media(request: HttpRequest, path: str) -> HttpResponse:
    """A product picture or rendition, where no nginx serves MEDIA_ROOT in front of the app
    (`make run`, tests). Its content never changes under its name (catalog/images.py), so it
    may be kept for a year."""
    return serve(request, path, document_root=settings.MEDIA_ROOT)
