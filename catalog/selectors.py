"""Reads for the catalog's pages and API, through catalog.cache."""

from __future__ import annotations

import functools
import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlencode

from django.db import connection
from django.db.models import Exists, OuterRef, Prefetch, Q, Subquery
from django.db.models.functions import Coalesce
from django.http import QueryDict
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from inventory.selectors import stock_request
from shelf import Loaded
from shelf.pages import Page, render_shared

from . import cache
from .images import picture
from .models import Category, Product, ProductImage, Review
from .structured_data import breadcrumb_jsonld, json_string, product_jsonld
from .variants import option_key, variant_choose

PAGE_SIZE = 24
RELATED_COUNT = 8
HOME_COUNT = 8
# "Top rated" is the Bayesian score (models.Product.rating_score), not the raw average: a
# single 5-star review does not outrank hundreds of 4.8s (index product_cat_score).
SORTS = {
    "": ("-rating_score", "id"),
    "price": ("price", "id"),
    "-price": ("-price", "id"),
    "rating": ("-rating_score", "id"),
    "new": ("-created_at", "id"),
}
SORT_LABELS = [
    ("", "Top rated"), ("price", "Price: low to high"), ("-price", "Price: high to low"),
    ("new", "Newest"),
]  # fmt: skip
MAX_PAGE = 10_000
REVIEWS_PAGE_SIZE = 10
# Listing filters take values from fixed sets only, so the listings a category can have are
# bounded (brands: those of the category), and equivalent URLs share one entry.
PRICE_EDGES = (25, 50, 100, 250, 500)
PRICE_BUCKETS = {  # value: (label, lowest price, price it stays under), in width_bucket order
    "0-25": ("Under $25", None, 25),
    "25-50": ("$25 to $50", 25, 50),
    "50-100": ("$50 to $100", 50, 100),
    "100-250": ("$100 to $250", 100, 250),
    "250-500": ("$250 to $500", 250, 500),
    "500-": ("$500 and over", 500, None),
}
RATINGS = {"4": "4 and up", "3": "3 and up", "2": "2 and up"}
MAX_BRAND = 80  # Product.brand's max_length


class NoSuchListing(Exception):
    """A filtered listing that does not exist (unknown category or brand, a page past the end):
    raised from its loader, so that the shelf stores nothing for it and junk filter values add
    no entries. Unfiltered, these are stored as brief negatives as before (one per slug and
    page number, at most MAX_PAGE per category)."""


@dataclass(frozen=True)
class Filters:
    """A listing's filters, each one value at most (a bounded key space)."""

    brand: str | None = None
    price: str | None = None
    rating: str | None = None
    in_stock: bool = False

    @classmethod
    def parse(cls, data: QueryDict) -> Filters | None:
        """The filters a query string asks for; None if a value is not one we offer (whether
        a brand exists in the category is known only to the loader). Other parameters are
        ignored, so they cannot make new entries either."""
        values = {}
        for name in ("brand", "price", "rating", "in_stock"):
            given = [v for v in data.getlist(name) if v != ""]
            if len(given) > 1:
                return None
            values[name] = given[0] if given else None
        brand, price, rating, in_stock = values.values()
        if brand is not None and (
            len(brand) > MAX_BRAND or any(unicodedata.category(c)[0] == "C" for c in brand)
        ):
            return None
        if (price is not None and price not in PRICE_BUCKETS) or (
            rating is not None and rating not in RATINGS
        ) or in_stock not in (None, "1"):
            return None
        return cls(brand, price, rating, in_stock == "1")

    def query(self, **changes) -> str:
        """The canonical query string of these filters (with `changes`): fixed order, no empty
        values. It is also the filters' part of the listing's key."""
        fields = {"brand": self.brand, "price": self.price, "rating": self.rating,
                  "in_stock": "1" if self.in_stock else None} | changes  # fmt: skip
        return urlencode({k: v for k, v in fields.items() if v not in (None, "", False)})

    def __bool__(self) -> bool:
        return any((self.brand, self.price, self.rating, self.in_stock))


NO_FILTERS = Filters()


def _first_image(of: str = "pk"):
    return ProductImage.objects.filter(product=OuterRef(of)).exclude(image="").order_by(
        "position"
    )


def _has_variants():
    return Exists(Product.objects.filter(parent=OuterRef("pk"), is_active=True))


def listed(products):
    """The products a listing, search or sitemap shows: not variants, which are shown on
    their parent's page."""
    return products.filter(parent__isnull=True)


def sold(products):
    """Active products that can be sold: a variant of an inactive product cannot."""
    return products.filter(Q(parent__isnull=True) | Q(parent__is_active=True), is_active=True)


def in_stock_q(category_ids: list[int] | None = None) -> Q:
    """Listed products (of these categories, if given) with units on hand: their own, or those
    of an active variant (a product with variants holds none itself). For products, or for
    another model keyed by the product's id with a `stock` relation (search's documents). The
    variants' side is an EXISTS, which PostgreSQL plans either way: hashed once for a listing
    of thousands of products, or a look-up by parent for the few it is asked about (a search's
    3,700 matches for `running shoes` took 56 ms to hash all 40,000 stocked variants, against
    about 5 ms of look-ups)."""
    stocked_variants = Product.objects.filter(
        parent_id=OuterRef("pk"), is_active=True, stock__quantity__gt=0
    )
    if category_ids is not None:  # a variant is in its product's category: a smaller hash
        stocked_variants = stocked_variants.filter(category_id__in=category_ids)
    return Q(stock__quantity__gt=0) | Q(Exists(stocked_variants))


def _load_products(product_ids: list[int]) -> dict[int, dict]:
    now = timezone.now()
    popular = cache.popular_among(product_ids)
    rows = (
        sold(Product.objects.shown().filter(id__in=product_ids))
        .annotate(
            # A variant shows its own picture, else its parent's, and costs its parent's
            # price unless it has its own.
            image_name=Coalesce(
                Subquery(_first_image().values("image")[:1]),
                Subquery(_first_image("parent_id").values("image")[:1]),
            ),
            image_width=Coalesce(
                Subquery(_first_image().values("width")[:1]),
                Subquery(_first_image("parent_id").values("width")[:1]),
            ),
            shown_price=Coalesce("price", "parent__price"),
            has_variants=_has_variants(),
        )
        .values(
            "id", "name", "slug", "brand", "shown_price", "rating", "review_count", "created_at",
            "category_id", "category__name", "category__slug", "image_name", "image_width",
            "parent_id", "has_variants",
        )
    )  # fmt: skip
    products = {}
    for row in rows:
        tier = "n" if now - row["created_at"] < timedelta(seconds=cache.NEW_FOR) else "r"
        if row["id"] in popular:
            tier = "p"
        # A card's picture needs no alt text: the product's name is the link's text beside it.
        image = picture(row["image_name"], row["image_width"], "") if row["image_name"] else None
        products[row["id"]] = {
            "id": row["id"],
            "name": row["name"],
            "slug": row["slug"],
            "brand": row["brand"],
            "price": str(row["shown_price"]),
            "rating": float(row["rating"]),
            "reviews": row["review_count"],
            "category": [row["category_id"], row["category__name"], row["category__slug"]],
            "image": image and image["src"],
            "srcset": image and image["srcset"],
            "tier": tier,
        }
        # Only where they apply, so a plain product's card stays as small as it was: a
        # product with variants is bought as one of them (the cart refuses it); a variant
        # names its parent, whose page shows it.
        if row["has_variants"]:
            products[row["id"]]["variants"] = True
        if row["parent_id"] is not None:
            products[row["id"]]["parent"] = row["parent_id"]
    return products


def product_get_many(product_ids: list[int]) -> dict[int, dict | None]:
    """The cached product entries by id (None for a product that is gone or not shown: inactive,
    or in an inactive category)."""
    return cache.product_get_many(product_ids, _load_products)


def product_get(product_id: int) -> dict | None:
    """The cached product entry (shown products only)."""
    return product_get_many([product_id])[product_id]


def product_cards(product_ids: list[int]) -> list[dict]:
    """Product entries in the given order, skipping any that are gone or not shown."""
    found = cache.product_get_many(product_ids, _load_products)
    return [found[i] for i in product_ids if found.get(i)]


# How many rendered cards each process keeps (about 1 kB each): the cards of the pages served
# most, so that a results page built on a miss renders none of them again.
CARD_HTML_KEEP = 4096


@functools.lru_cache(maxsize=CARD_HTML_KEEP)
def _card_html(card_json: str) -> SafeString:
    return render_to_string("includes/product_card.html", {"p": json.loads(card_json)})


def product_cards_html(cards: list[dict]) -> list[SafeString]:
    """Each card rendered by includes/product_card.html, as a page built on a miss would include
    it. The card's whole entry is the memo's key, so a changed price, name or picture is a new
    key and can never show the old markup; the markup reads nothing but the card."""
    return [_card_html(json.dumps(card, sort_keys=True, separators=(",", ":"))) for card in cards]


def product_versions(product_ids: list[int]) -> dict[str, str]:
    """The versions of these products' tags, for a page of another app that shows their cards:
    read them before `product_cards`, and record them with the page."""
    return cache.page_versions(*(cache.product_tag(i) for i in product_ids))


def popular_products(limit: int) -> list[dict]:
    """Entries of the most viewed products of the last 24 hours, as last ranked."""
    return product_cards(cache.popular_ids(limit))


def _follow_stock(data: dict) -> list:
    # A variant's own address is a redirect: it shows no stock.
    return [stock_request(data["stock"])] if "stock" in data else []


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


@dataclass(frozen=True)
class VariantRedirect:
    """A variant's own address: its parent's page with it chosen (a permanent redirect)."""

    url: str


# The parts of a product page that follow the chosen variant: `<!--variant:<n>-->` entry slots
# filled from the chosen variant's `parts` (rendered and escaped with the page), so that every
# choice is served from the page's one entry.
(PART_PRICE, PART_SKU, PART_ID, PART_URL, PART_GALLERY, PART_JSON_PRICE, PART_JSON_SKU,
 PART_LABEL) = range(8)  # fmt: skip


def _gallery(product: Product, images: list[dict]) -> str:
    return render_to_string("includes/gallery.html", {"product": product, "images": images})


def _variants_of(product: Product, images: list[dict]) -> tuple[list[dict], list[dict]]:
    """The options of a product with variants ([{name, key, values: [{value, n}]}]) and its
    active variants as the page entry keeps them: {id, sku, values, chosen, parts, gallery}.
    Each (option, value) pair has a number `n`, its `<!--chosen:<n>-->` slot; a variant's
    `chosen` lists the numbers of its values."""
    rows = list(
        Product.objects.filter(parent=product, is_active=True)
        .order_by("id")
        .values("id", "sku", "price", "option_values")
    )
    if not rows:
        return [], []
    own = {}
    for image in ProductImage.objects.filter(product_id__in=[r["id"] for r in rows]).exclude(
        image=""
    ):
        own.setdefault(image.product_id, image)
    options, numbers = [], {}
    for position, name in enumerate(product.variant_options):
        key, values = option_key(name, position), []
        for row in rows:
            value = row["option_values"].get(name)
            if value and (key, value) not in numbers:
                numbers[key, value] = len(numbers)
                values.append({"value": value, "n": numbers[key, value]})
        if values:
            options.append({"name": name, "key": key, "values": values})
    url = product.get_absolute_url()
    variants = []
    for row in rows:
        values = {o["key"]: row["option_values"].get(o["name"], "") for o in options}
        price = str(row["price"] if row["price"] is not None else product.price)
        image = own.get(row["id"])
        shown = [image.picture(), *images] if image else images
        label = " / ".join(v for v in values.values() if v)
        parts = {
            PART_PRICE: escape(price),
            PART_SKU: escape(row["sku"]),
            PART_ID: str(row["id"]),
            PART_URL: escape(f"{url}?{urlencode({'variant': row['sku']})}"),
            PART_GALLERY: _gallery(product, shown),
            PART_JSON_PRICE: json_string(price),
            PART_JSON_SKU: json_string(row["sku"]),
            PART_LABEL: escape(label),
        }
        variants.append({
            "id": row["id"], "sku": row["sku"], "values": values, "label": label,
            "price": price, "gallery": mark_safe(parts[PART_GALLERY]),
            "values_json": json.dumps(values, ensure_ascii=False),
            "chosen": [numbers[k, v] for k, v in values.items() if (k, v) in numbers],
            "parts": [parts[i] for i in range(len(parts))],
        })  # fmt: skip
    return options, variants


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


def _variant_redirect(variant: dict, deps: dict[str, str]) -> Loaded:
    deps |= cache.page_versions(
        cache.product_tag(variant["id"]), cache.product_tag(variant["parent_id"])
    )
    parent = Product.objects.filter(pk=variant["parent_id"], is_active=True).first()
    if parent is None:
        return Loaded(None, deps)
    query = urlencode({"variant": variant["sku"]})
    return Loaded({"redirect": f"{parent.get_absolute_url()}?{query}"}, deps)


def _load_product_page(slug: str) -> Loaded:
    deps = cache.page_versions(cache.SLUGS_TAG, cache.CATEGORIES_TAG)
    # A product of an inactive category is missing like an unknown slug: one brief negative
    # under its own slug, which the category's (re)activation expires (catalog:categories).
    found = Product.objects.shown().filter(slug=slug).values("id", "sku", "parent_id").first()
    if found is None:
        return Loaded(None, deps)
    if found["parent_id"] is not None:
        return _variant_redirect(found, deps)
    found = found["id"]
    deps |= cache.page_versions(cache.product_tag(found))
    product = (
        Product.objects.select_related("category__parent").prefetch_related("images").get(pk=found)
    )
    review_count = _approved_reviews(found).count()
    images = [i.picture() for i in product.images.all() if i.image]
    options, variants = _variants_of(product, images)
    # A variant's save bumps its parent's tag too (services.products_changed), so a variant
    # added since is seen; these cover each variant's own changes.
    deps |= cache.page_versions(*(cache.product_tag(v["id"]) for v in variants))
    related = list(
        listed(Product.objects.filter(category_id=product.category_id, is_active=True))
        .exclude(pk=product.pk)
        .order_by("-rating_score", "id")
        .values_list("id", flat=True)[:RELATED_COUNT]
    )
    deps |= cache.page_versions(*(cache.product_tag(i) for i in related))
    category = product.category
    html = render_shared(
        "catalog/product.html",
        {
            "product": product,
            "images": images,
            "options": options,
            "variants": variants,
            "gallery": _gallery(product, images),
            "breadcrumb": [c for c in (category.parent, category) if c is not None],
            "related": product_cards(related),
            "reviews": _reviews_of(found, 1),
            "review_total": review_count,
            "review_page": 1,
            "review_pages": _review_pages(review_count),
            "jsonld": product_jsonld(
                product_id=product.pk, name=product.name, sku=product.sku,
                brand=product.brand, description=product.description,
                url=product.get_absolute_url(), images=[i["src"] for i in images],
                price=str(product.price),
                rating=float(product.rating), review_count=product.review_count,
                offer_slots=(
                    f"<!--variant:{PART_JSON_PRICE}-->", f"<!--variant:{PART_JSON_SKU}-->"
                ) if variants else None,
            ),
            "menu": department_menu(),
        },
    )  # fmt: skip
    pages = _review_pages(review_count)
    stock = [product.pk, *(v["id"] for v in variants), *related]
    entry = {"html": html, "stock": stock, "review_pages": pages}
    if variants:
        entry["variants"] = [{k: v[k] for k in ("id", "sku", "values", "chosen", "parts")}
                             for v in variants]  # fmt: skip
    return Loaded(entry, deps)


def product_page(
    slug: str, choice: Mapping[str, str] | None = None, *, record: bool = True
) -> ProductPage | VariantRedirect | None:
    """The product page for `slug` with the variant `choice` asks for (query parameters, see
    catalog.variants) chosen, a redirect for a variant's own slug, or None for an unknown or
    hidden product. `record` counts the view towards popularity (a shopper's view, not a
    warm-up). Every choice is served from the product's one entry: the chosen variant's
    price, picture and stock fill the page's slots."""
    value, follows = cache.page_get(slug, _load_product_page, _follow_stock)
    if value is None:
        return None
    if "redirect" in value:
        return VariantRedirect(value["redirect"])
    product_id = value["stock"][0]
    if record:
        cache.record_view(product_id)
    page = _page(value, follows)
    if "variants" not in value:
        return ProductPage(page.body, page.values, product_id=product_id)
    stock = dict(page.values["stock"])
    chosen = variant_choose(value["variants"], choice or {}, stock)
    # The buy box's stock, quantity and availability slots carry the product's id: they
    # show the chosen variant's units.
    stock[product_id] = stock.get(chosen["id"])
    values = {
        "stock": stock, "availability": stock, "buy": stock,
        "variant": dict(enumerate(chosen["parts"])), "chosen": dict.fromkeys(chosen["chosen"], 1),
    }  # fmt: skip
    return ProductPage(page.body, values, product_id=product_id)


def _load_reviews(part: str) -> Loaded:
    product_id, page = map(int, part.split(":"))
    deps = cache.page_versions(cache.product_tag(product_id))
    product = (
        Product.objects.shown()
        .filter(pk=product_id)
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
    if value is None or "redirect" in value or not 1 <= page <= value["review_pages"]:
        return None
    return _page(cache.reviews_get(value["stock"][0], page, _load_reviews), [])


def _category_tree() -> list[Category]:
    return list(
        Category.objects.filter(parent=None, is_active=True).prefetch_related(
            Prefetch("children", queryset=Category.objects.filter(is_active=True))
        )
    )


def _load_menu(_part: str) -> str:
    # The menu namespace's key tag (catalog:categories) was read before this runs.
    return render_to_string("includes/department_menu.html", {"departments": _category_tree()})


def department_menu() -> SafeString:
    """The header's department menu, the same for every visitor (a cached fragment). A shared
    page that embeds it records `menu_versions()` before rendering."""
    return mark_safe(cache.menu_get(_load_menu))


def menu_versions() -> dict[str, str]:
    """The version of the tag the department menu depends on, for a shared page of another app
    to record before it renders the menu (see `department_menu`)."""
    return cache.page_versions(cache.CATEGORIES_TAG)


# Facet counts of a listing in one statement. Each facet counts what the *other* filters keep,
# so a shopper sees what choosing a value would give; every value present in the category is
# listed (brands with no match count 0). The CTE reads the category's active products once.
_FACETS_SQL = """
WITH f AS MATERIALIZED (
    SELECT p.brand, width_bucket(p.price, %(edges)s::numeric[]) AS bucket, p.rating,
           stock.stocked,
           (%(brand)s::text IS NULL OR p.brand = %(brand)s::text) AS b,
           (%(bucket)s::int IS NULL
            OR width_bucket(p.price, %(edges)s::numeric[]) = %(bucket)s::int) AS pr,
           (%(rating)s::numeric IS NULL OR p.rating >= %(rating)s::numeric) AS r,
           (NOT %(in_stock)s OR stock.stocked) AS s
    FROM catalog_product p LEFT JOIN inventory_stock s ON s.product_id = p.id
    -- Products whose variants have units (variants are in their product's category): one
    -- hashed pass over the category's variants, not a look-up per product.
    LEFT JOIN (
        SELECT DISTINCT v.parent_id FROM catalog_product v
        JOIN inventory_stock vs ON vs.product_id = v.id AND vs.quantity > 0
        WHERE v.category_id = ANY(%(categories)s) AND v.is_active AND v.parent_id IS NOT NULL
    ) stocked_variant ON stocked_variant.parent_id = p.id
    CROSS JOIN LATERAL (
        SELECT coalesce(s.quantity, 0) > 0 OR stocked_variant.parent_id IS NOT NULL AS stocked
    ) stock
    WHERE p.category_id = ANY(%(categories)s) AND p.is_active AND p.parent_id IS NULL
)
SELECT 'brand', brand, count(*) FILTER (WHERE pr AND r AND s) FROM f GROUP BY brand
UNION ALL
SELECT 'price', bucket::text, count(*) FILTER (WHERE b AND r AND s) FROM f GROUP BY bucket
UNION ALL
SELECT 'rating', t::text, count(*) FILTER (WHERE rating >= t AND b AND pr AND s)
FROM f, unnest(%(thresholds)s::numeric[]) t GROUP BY t
UNION ALL
SELECT 'stock', '', count(*) FILTER (WHERE stocked AND b AND pr AND r) FROM f
UNION ALL
SELECT 'total', '', count(*) FILTER (WHERE b AND pr AND r AND s) FROM f
"""
_BUCKET_INDEX = {value: i for i, value in enumerate(PRICE_BUCKETS)}


def _facet_counts(category_ids: list[int], filters: Filters) -> dict[str, dict[str, int]]:
    """{"brand": {name: n}, "price": {bucket: n}, "rating": {threshold: n}, "stock": {"": n},
    "total": {"": n}} for the category's active products under `filters`."""
    params = {
        "categories": category_ids,
        "edges": list(PRICE_EDGES),
        "thresholds": [int(t) for t in RATINGS],
        "brand": filters.brand,
        "bucket": _BUCKET_INDEX[filters.price] if filters.price else None,
        "rating": int(filters.rating) if filters.rating else None,
        "in_stock": filters.in_stock,
    }
    counts: dict[str, dict[str, int]] = {"brand": {}, "price": {}, "rating": {}}
    with connection.cursor() as cursor:
        cursor.execute(_FACETS_SQL, params)
        for facet, value, count in cursor.fetchall():
            counts.setdefault(facet, {})[value] = count
    buckets = list(PRICE_BUCKETS)
    counts["price"] = {buckets[int(i)]: n for i, n in counts["price"].items()}
    return counts


def _filtered(products, filters: Filters, category_ids: list[int]):
    if filters.brand:
        products = products.filter(brand=filters.brand)
    if filters.price:
        _label, low, high = PRICE_BUCKETS[filters.price]
        if low is not None:
            products = products.filter(price__gte=low)
        if high is not None:
            products = products.filter(price__lt=high)
    if filters.rating:
        products = products.filter(rating__gte=Decimal(filters.rating))
    if filters.in_stock:
        products = products.filter(in_stock_q(category_ids))
    return products


def _facets(counts: dict, sort: str) -> dict:
    """What the filter panel shows: each facet's values with their counts."""
    return {
        "brands": [
            {"value": name, "count": n}
            for name, n in sorted(counts["brand"].items(), key=lambda item: item[0].casefold())
        ],
        "prices": [
            {"value": value, "label": label, "count": counts["price"][value]}
            for value, (label, _low, _high) in PRICE_BUCKETS.items()
            if value in counts["price"]
        ],
        "ratings": [
            {"value": value, "label": label, "count": counts["rating"].get(value, 0)}
            for value, label in RATINGS.items()
        ],
        "in_stock": counts["stock"][""],
        "clear": f"?sort={sort}" if sort else "?",
    }


def _missing(filters: Filters, deps: dict[str, str]) -> Loaded:
    if filters:
        raise NoSuchListing
    return Loaded(None, deps)


def _load_listing(slug: str, sort: str, page: int, filters: Filters) -> Loaded:
    # Tags before what they protect: the category tree, then the category's products and which
    # of them have stock. A listing counts "in stock" (and may filter by it) from PostgreSQL's
    # stock rows; `instock:<category>` is bumped after the commit of any change that sells a
    # product out or brings it back, so the next request rebuilds it, while sales that leave
    # units on hand cost it nothing (the badges are stock slots, read live on every hit).
    deps = cache.page_versions(cache.CATEGORIES_TAG)
    category = (
        Category.objects.select_related("parent").filter(slug=slug, is_active=True).first()
    )
    if category is None or (category.parent is not None and not category.parent.is_active):
        return _missing(filters, deps)
    deps |= cache.page_versions(
        cache.listing_tag(category.pk), cache.in_stock_tag(category.pk)
    )
    children = list(category.children.filter(is_active=True))
    tree = [category.pk, *(c.pk for c in children)]
    counts = _facet_counts(tree, filters)
    if filters.brand is not None and filters.brand not in counts["brand"]:
        raise NoSuchListing(filters.brand)
    total = counts["total"][""]
    pages = max(1, -(-total // PAGE_SIZE))
    if page > pages:
        return _missing(filters, deps)
    products = _filtered(
        listed(Product.objects.filter(category_id__in=tree, is_active=True)), filters, tree
    )
    offset = (page - 1) * PAGE_SIZE
    ids = list(products.order_by(*SORTS[sort]).values_list("id", flat=True)[offset:][:PAGE_SIZE])
    query = filters.query(sort=sort or None)
    facets = _facets(counts, sort)
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
            "sorts": SORT_LABELS,
            "filters": filters,
            "facets": facets,
            "page_link": f"?{query}&page=" if query else "?page=",
            "menu": department_menu(),
        },
    )
    # What the JSON API answers besides the cards (`category_listing`): the same entry serves
    # the page and the API, so either warms the other.
    data = {
        "category": {"name": category.name, "slug": category.slug},
        "total": total,
        "pages": pages,
        "facets": {k: v for k, v in facets.items() if k != "clear"},
    }
    return Loaded({"html": html, "stock": ids, "data": data}, deps)


def _listing(slug: str, sort: str, page: int, filters: Filters) -> tuple[dict, list] | None:
    if sort not in SORTS or not 1 <= page <= MAX_PAGE:
        return None
    part = f"{slug}:{sort}:{page}:{filters.query()}"
    try:
        value, follows = cache.listing_get(
            part, lambda _part: _load_listing(slug, sort, page, filters), _follow_stock
        )
    except NoSuchListing:
        return None
    return None if value is None else (value, follows)


def category_page(
    slug: str, sort: str, page: int, filters: Filters = NO_FILTERS
) -> Page | None:
    """A category listing page, or None for an unknown or inactive category, a brand the
    category does not have, or a page past the end (none of which is stored)."""
    found = _listing(slug, sort, page, filters)
    return None if found is None else _page(*found)


def category_listing(
    slug: str, sort: str, page: int, filters: Filters = NO_FILTERS
) -> dict | None:
    """The listing `category_page` shows, as data for the JSON API: the category, total,
    pages, facets, and the page's product cards with their stock (read with the entry); None
    where `category_page` is None. A hit runs no SQL."""
    found = _listing(slug, sort, page, filters)
    if found is None:
        return None
    value, follows = found
    stock = follows[0] if follows else {}
    return {**value["data"], "cards": product_cards(value["stock"]), "stock": stock}


def _load_home(_part: str) -> Loaded:
    deps = cache.page_versions(cache.HOME_TAG, cache.CATEGORIES_TAG)
    popular = cache.popular_ids(HOME_COUNT)
    if len(popular) < HOME_COUNT:
        top = listed(Product.objects.shown()).order_by("-rating_score", "id")
        popular += [i for i in top.values_list("id", flat=True)[: HOME_COUNT * 2]
                    if i not in popular][: HOME_COUNT - len(popular)]  # fmt: skip
    newest = list(
        listed(Product.objects.shown())
        .order_by("-created_at", "-id")
        .values_list("id", flat=True)[:HOME_COUNT]
    )
    html = render_shared(
        "catalog/home.html",
        {
            "departments": _category_tree(),
            "popular": product_cards(popular),
            "newest": product_cards(newest),
            "menu": department_menu(),
        },
    )
    return Loaded({"html": html, "stock": [*popular, *newest]}, deps)


def home_page() -> Page:
    value, follows = cache.home_get(_load_home, _follow_stock)
    return _page(value, follows)


def product_by_slug(slug: str) -> dict | None:
    """The id, name and slug of a shown product, from PostgreSQL (for per-visitor forms
    such as writing a review, which are never cached)."""
    return listed(Product.objects.shown().filter(slug=slug)).values("id", "name", "slug").first()
