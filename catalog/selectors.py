"""Reads for the catalog's pages and API, through catalog.cache."""

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import OuterRef, Subquery
from django.urls import reverse
from django.utils import timezone

from inventory.selectors import stock_request
from shelf import Loaded
from shelf.pages import Page, render_shared

from . import cache
from .models import Category, Product, ProductImage, Review, image_url
from .structured_data import breadcrumb_jsonld, product_jsonld

PAGE_SIZE = 24
RELATED_COUNT = 8
HOME_COUNT = 8
SORTS = {
    "": ("-rating", "id"),
    "price": ("price", "id"),
    "-price": ("-price", "id"),
    "rating": ("-rating", "id"),
    "new": ("-created_at", "id"),
}
MAX_PAGE = 10_000
REVIEWS_PAGE_SIZE = 10


def _first_image():
    return ProductImage.objects.filter(product=OuterRef("pk")).order_by("position")


def _load_products(product_ids: list[int]) -> dict[int, dict]:
    now = timezone.now()
    popular = cache.popular_among(product_ids)
    rows = (
        Product.objects.filter(id__in=product_ids, is_active=True)
        .annotate(
            image_id=Subquery(_first_image().values("pk")[:1]),
            image_hue=Subquery(_first_image().values("hue")[:1]),
        )
        .values(
            "id", "name", "slug", "brand", "price", "rating", "review_count", "created_at",
            "category_id", "category__name", "category__slug", "image_id", "image_hue",
        )
    )  # fmt: skip
    products = {}
    for row in rows:
        tier = "n" if now - row["created_at"] < timedelta(seconds=cache.NEW_FOR) else "r"
        if row["id"] in popular:
            tier = "p"
        products[row["id"]] = {
            "id": row["id"],
            "name": row["name"],
            "slug": row["slug"],
            "brand": row["brand"],
            "price": str(row["price"]),
            "rating": float(row["rating"]),
            "reviews": row["review_count"],
            "category": [row["category_id"], row["category__name"], row["category__slug"]],
            "image": image_url(row["image_id"], row["image_hue"]) if row["image_id"] else None,
            "tier": tier,
        }
    return products


def product_get_many(product_ids: list[int]) -> dict[int, dict | None]:
    """The cached product entries by id (None for a product that is gone or inactive)."""
    return cache.product_get_many(product_ids, _load_products)


def product_get(product_id: int) -> dict | None:
    """The cached product entry (active products only)."""
    return product_get_many([product_id])[product_id]


def product_cards(product_ids: list[int]) -> list[dict]:
    """Product entries in the given order, skipping any that are gone or inactive."""
    found = cache.product_get_many(product_ids, _load_products)
    return [found[i] for i in product_ids if found.get(i)]


def product_versions(product_ids: list[int]) -> dict[str, str]:
    """The versions of these products' tags, for a page of another app that shows their cards:
    read them before `product_cards`, and record them with the page."""
    return cache.page_versions(*(cache.product_tag(i) for i in product_ids))


def popular_products(limit: int) -> list[dict]:
    """Entries of the most viewed products of the last 24 hours, as last ranked."""
    return product_cards(cache.popular_ids(limit))


def _follow_stock(data: dict) -> list:
    return [stock_request(data["stock"])]


def _page(value, follows) -> Page | None:
    if value is None:
        return None
    stock = follows[0] if follows else {}
    # The JSON-LD offer's availability and the `buy` slot (the cart's quantity box and
    # button) come from the same stock read as the badges: one read, all exact at every
    # response.
    return Page(value["html"], {"stock": stock, "availability": stock, "buy": stock})


@dataclass(frozen=True)
class ProductPage(Page):
    """A product page and the product it shows."""

    product_id: int = 0


def _breadcrumb_jsonld(category: Category) -> str:
    trail = [("Home", reverse("catalog:home"))]
    trail += [(c.name, c.get_absolute_url()) for c in (category.parent, category) if c]
    return breadcrumb_jsonld(trail)


def _approved_reviews(product_id: int):
    return Review.objects.filter(product_id=product_id, status=Review.Status.APPROVED)


def _review_pages(count: int) -> int:
    return max(1, -(-count // REVIEWS_PAGE_SIZE))


def _reviews_of(product_id: int, page: int) -> list[dict]:
    """One page of a product's approved reviews, newest first, as plain data."""
    offset = (page - 1) * REVIEWS_PAGE_SIZE
    rows = _approved_reviews(product_id).order_by("-created_at", "-id").values(
        "id", "author", "rating", "title", "text", "created_at"
    )[offset : offset + REVIEWS_PAGE_SIZE]
    return list(rows)


def _load_product_page(slug: str) -> Loaded:
    deps = cache.page_versions(cache.SLUGS_TAG)
    found = Product.objects.filter(slug=slug, is_active=True).values_list("id", flat=True).first()
    if found is None:
        return Loaded(None, deps)
    deps |= cache.page_versions(cache.product_tag(found), cache.reviews_tag(found))
    product = (
        Product.objects.select_related("category__parent").prefetch_related("images").get(pk=found)
    )
    review_count = _approved_reviews(found).count()
    related = list(
        Product.objects.filter(category_id=product.category_id, is_active=True)
        .exclude(pk=product.pk)
        .order_by("-rating", "-review_count", "id")
        .values_list("id", flat=True)[:RELATED_COUNT]
    )
    deps |= cache.page_versions(*(cache.product_tag(i) for i in related))
    category = product.category
    images = [i.url for i in product.images.all()]
    html = render_shared(
        "catalog/product.html",
        {
            "product": product,
            "images": images,
            "breadcrumb": [c for c in (category.parent, category) if c is not None],
            "related": product_cards(related),
            "reviews": _reviews_of(found, 1),
            "review_total": review_count,
            "review_page": 1,
            "review_pages": _review_pages(review_count),
            "jsonld": product_jsonld(
                product_id=product.pk, name=product.name, sku=product.sku,
                brand=product.brand, description=product.description,
                url=product.get_absolute_url(), images=images, price=str(product.price),
                rating=float(product.rating), review_count=product.review_count,
            ),
        },
    )  # fmt: skip
    pages = _review_pages(review_count)
    return Loaded({"html": html, "stock": [product.pk, *related], "review_pages": pages}, deps)


def product_page(slug: str, *, record: bool = True) -> ProductPage | None:
    """The product page for `slug`, or None for an unknown or inactive product. `record`
    counts the view towards popularity (a shopper's view, not a warm-up)."""
    value, follows = cache.page_get(slug, _load_product_page, _follow_stock)
    if value is None:
        return None
    if record:
        cache.record_view(value["stock"][0])
    page = _page(value, follows)
    return ProductPage(page.body, page.values, product_id=value["stock"][0])


def _load_reviews(part: str) -> Loaded:
    product_id, page = map(int, part.split(":"))
    deps = cache.page_versions(cache.product_tag(product_id), cache.reviews_tag(product_id))
    product = (
        Product.objects.filter(pk=product_id, is_active=True)
        .select_related("category__parent")
        .first()
    )
    if product is None:
        return Loaded(None, deps)
    total = _approved_reviews(product_id).count()
    pages = _review_pages(total)
    if page > pages:
        return Loaded(None, deps)
    category = product.category
    html = render_shared(
        "catalog/reviews.html",
        {
            "product": product,
            "breadcrumb": [c for c in (category.parent, category) if c is not None],
            "reviews": _reviews_of(product_id, page),
            "review_total": total,
            "review_page": page,
            "review_pages": pages,
        },
    )
    return Loaded({"html": html}, deps)


def review_page(slug: str, page: int) -> Page | None:
    """Page `page` of a product's approved reviews, or None for an unknown product or a page
    past the last. The product page's entry says how many pages there are, so a page number
    beyond them is refused before any entry is made for it (their number stays bounded)."""
    value, _follows = cache.page_get(slug, _load_product_page, _follow_stock)
    if value is None or not 1 <= page <= value["review_pages"]:
        return None
    return _page(cache.reviews_get(value["stock"][0], page, _load_reviews), [])


def _category_tree() -> list[Category]:
    return list(Category.objects.filter(parent=None).prefetch_related("children"))


def _load_listing(part: str) -> Loaded:
    slug, sort, page = part.rsplit(":", 2)
    page = int(page)
    deps = cache.page_versions(cache.CATEGORIES_TAG)
    category = Category.objects.select_related("parent").filter(slug=slug).first()
    if category is None:
        return Loaded(None, deps)
    deps |= cache.page_versions(cache.listing_tag(category.pk))
    children = list(category.children.all())
    products = Product.objects.filter(
        category_id__in=[category.pk, *(c.pk for c in children)], is_active=True
    )
    total = products.count()
    pages = max(1, -(-total // PAGE_SIZE))
    if page > pages:
        return Loaded(None, deps)
    offset = (page - 1) * PAGE_SIZE
    ids = list(products.order_by(*SORTS[sort]).values_list("id", flat=True)[offset:][:PAGE_SIZE])
    html = render_shared(
        "catalog/category.html",
        {
            "category": category,
            "children": children,
            "breadcrumb": [c for c in (category.parent, category) if c is not None],
            "jsonld": _breadcrumb_jsonld(category),
            "products": product_cards(ids),
            "total": total,
            "page": page,
            "pages": pages,
            "sort": sort,
            "sorts": [("", "Top rated"), ("price", "Price: low to high"),
                      ("-price", "Price: high to low"), ("new", "Newest")],
        },
    )  # fmt: skip
    return Loaded({"html": html, "stock": ids}, deps)


def category_page(slug: str, sort: str, page: int) -> Page | None:
    """A category listing page, or None for an unknown category or a page past the end."""
    if sort not in SORTS or not 1 <= page <= MAX_PAGE:
        return None
    value, follows = cache.listing_get(f"{slug}:{sort}:{page}", _load_listing, _follow_stock)
    return _page(value, follows)


def _load_home(_part: str) -> Loaded:
    deps = cache.page_versions(cache.HOME_TAG)
    popular = cache.popular_ids(HOME_COUNT)
    if len(popular) < HOME_COUNT:
        top = Product.objects.filter(is_active=True).order_by("-rating", "-review_count", "id")
        popular += [i for i in top.values_list("id", flat=True)[: HOME_COUNT * 2]
                    if i not in popular][: HOME_COUNT - len(popular)]  # fmt: skip
    newest = list(
        Product.objects.filter(is_active=True)
        .order_by("-created_at", "-id")
        .values_list("id", flat=True)[:HOME_COUNT]
    )
    html = render_shared(
        "catalog/home.html",
        {
            "departments": _category_tree(),
            "popular": product_cards(popular),
            "newest": product_cards(newest),
        },
    )
    return Loaded({"html": html, "stock": [*popular, *newest]}, deps)


def home_page() -> Page:
    value, follows = cache.home_get(_load_home, _follow_stock)
    return _page(value, follows)


def product_by_slug(slug: str) -> dict | None:
    """The id, name and slug of an active product, from PostgreSQL (for per-visitor forms
    such as writing a review, which are never cached)."""
    return Product.objects.filter(slug=slug, is_active=True).values("id", "name", "slug").first()
