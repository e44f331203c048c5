"""Writes to the catalog and the invalidation each one needs."""

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from functools import partial

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Avg, Count, Q
from django.utils import timezone
from django.utils.text import slugify

from shelf.warming import Warm

from . import cache, images, signals
from .models import Category, Product, ProductImage, Review
from .variants import option_values_text

# Cards loaded per step of the warm plan, before the pages of those products.
CARDS_PER_WARM = 100


def _tell(change: str) -> None:
    signals.products_changed.send(sender=Product, change=change)


def _with_ancestors(category_ids: Iterable[int]) -> set[int]:
    """The categories and their parents: a department's listing shows its children's products."""
    ids = {i for i in category_ids if i is not None}
    parents = Category.objects.filter(pk__in=ids, parent__isnull=False).values_list(
        "parent_id", flat=True
    )
    return ids | set(parents)


def products_changed(
    product_ids: Iterable[int], category_ids: Iterable[int] = (), *, price_only: bool = False
) -> None:
    """Invalidate products (and the listings they were or are in) after the commit, then
    write their entries through so the next shopper gets a hit.

    Data derived from products elsewhere (search results hold ids, not cards) is told through
    catalog.signals: unless the caller knows only prices changed (`price_only`), the product
    may have come, gone, been renamed or moved.
    """
    from .selectors import product_cards

    product_ids = set(product_ids)
    rows = Product.objects.filter(pk__in=product_ids).values_list("category_id", "parent_id")
    category_ids, parents = set(category_ids), set()
    for category_id, parent_id in rows:
        category_ids.add(category_id)
        if parent_id is not None:
            parents.add(parent_id)
    if parents and not price_only:
        # A variant is shown on its parent's page and found by its parent's search document.
        product_search_reindex(parents)
    product_ids = sorted(product_ids | parents)
    cache.invalidate(
        product_ids,
        _with_ancestors(category_ids),
        slugs=True,
        then=lambda: product_cards(product_ids),
    )
    _tell(change="prices" if price_only else "products")


def product_variants_sync(parent: Product) -> list[int]:
    """Give a product's variants its name (with their option values), brand, category and
    model, which they are listed and ordered by; return their ids. A bulk update sends no
    signals: the caller invalidates (the admin's save of the parent does)."""
    updated = []
    for variant in Product.objects.filter(parent=parent).order_by("pk"):
        values = option_values_text(parent.variant_options, variant.option_values)
        fields = {
            "name": f"{parent.name} ({values})"[:200],
            "brand": parent.brand,
            "model": parent.model,
            "category_id": parent.category_id,
        }
        if any(getattr(variant, k) != v for k, v in fields.items()):
            Product.objects.filter(pk=variant.pk).update(**fields, updated_at=timezone.now())
        updated.append(variant.pk)
    return updated


def variant_prepare(parent: Product, variant: Product) -> None:
    """Fill a new or edited variant's fields that follow its parent, before it is saved: its
    name, brand, category, model and creation time, and a slug (its own address redirects
    to the parent's page with it chosen)."""
    values = option_values_text(parent.variant_options, variant.option_values)
    variant.name = f"{parent.name} ({values})"[:200]
    variant.brand, variant.model = parent.brand, parent.model
    variant.category_id = parent.category_id
    variant.created_at = variant.created_at or parent.created_at or timezone.now()
    if not variant.slug:
        variant.slug = f"{parent.slug}-{slugify(variant.sku)}"[:220]


def product_image_saved(image: ProductImage) -> None:
    """Make the renditions of a saved picture, then refresh the pages showing its product.

    Made here, in the saving request, so that no shopper's page view waits for them; the
    pages change only after the commit, when the files already exist.
    """
    if image.image:
        images.renditions_make(image.image.name)
    products_changed([image.product_id])


def product_search_reindex(product_ids: Iterable[int]) -> None:
    """Recompute these products' search documents, which hold their variants' SKUs and option
    values (a variant's change does not fire its parent's trigger)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE catalog_product SET search_vector = catalog_product_search_document(
                id, sku, name, brand, description, category_id)
            WHERE id = ANY(%s)
            """,
            [sorted(product_ids)],
        )


def _search_reindex(category_ids: list[int]) -> None:
    """Recompute the search document of the products in these categories, whose names it
    holds; rows whose document is unchanged are not written."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE catalog_product p SET search_vector = d.document
            FROM (
                SELECT id, catalog_product_search_document(
                    id, sku, name, brand, description, category_id) AS document
                FROM catalog_product WHERE category_id = ANY(%s)
            ) d
            WHERE p.id = d.id AND p.search_vector IS DISTINCT FROM d.document
            """,
            [category_ids],
        )


def category_changed(category: Category, old_parent_id: int | None = None) -> None:
    """A category's name, slug or place changed: every page naming it is stale, and its
    products' search documents (which hold its and its parent's names) are recomputed."""
    tree = [category.pk, *category.children.values_list("pk", flat=True)]
    product_ids = Product.objects.filter(category_id__in=tree).values_list("pk", flat=True)
    cache.invalidate(
        product_ids, _with_ancestors([*tree, old_parent_id]), slugs=True, categories=True
    )
    _search_reindex(tree)
    _tell(change="products")


def catalog_changed_everything() -> None:
    """Expire every catalog entry: for bulk loads that bypass signals (seed_catalog), whose
    rows also move the catalog's mean rating."""
    rating_prior_refresh()
    cache.invalidate_everything()
    _tell(change="everything")


def products_availability_changed(product_ids: Iterable[int]) -> None:
    """These products sold out or came back in stock: the listings of their categories (and
    of the departments above them) count and filter "in stock" anew after the commit."""
    categories = Product.objects.filter(pk__in=list(product_ids)).values_list(
        "category_id", flat=True
    )
    cache.invalidate_in_stock(sorted(_with_ancestors(categories)))


_PRIOR_SQL = """
INSERT INTO catalog_ratingprior (id, mean, weight, updated_at)
SELECT 1, coalesce(sum(rating * review_count) / nullif(sum(review_count), 0), 0), %s, now()
FROM catalog_product WHERE is_active
ON CONFLICT (id) DO UPDATE
SET mean = EXCLUDED.mean, weight = EXCLUDED.weight, updated_at = EXCLUDED.updated_at
"""
_SCORES_SQL = """
UPDATE catalog_product p SET rating_score = s.score
FROM (
    SELECT p.id, catalog_rating_score(p.rating, p.review_count, r.mean, r.weight) AS score
    FROM catalog_product p, catalog_ratingprior r WHERE r.id = 1
) s
WHERE p.id = s.id AND p.rating_score IS DISTINCT FROM s.score
"""


@transaction.atomic
def rating_prior_refresh() -> int:
    """Renew the "Top rated" prior (the mean rating of every review in the catalog, weighted
    CATALOG_RATING_PRIOR_WEIGHT) and every product's score; return how many scores changed.

    Between two runs a product's score follows its own rating and review count at once (the
    trigger of migration 0003) with the prior of the last run. Rows whose score is unchanged
    are not written; if any changed, every listing's order may have, so all are expired.
    """
    with connection.cursor() as cursor:
        cursor.execute(_PRIOR_SQL, [settings.CATALOG_RATING_PRIOR_WEIGHT])
        cursor.execute(_SCORES_SQL)
        changed = cursor.rowcount
    if changed:
        cache.invalidate_listings()
    return changed


@transaction.atomic
def product_price_change_percent(product_ids: Iterable[int], percent: Decimal) -> int:
    """Change the prices of these products by `percent` (e.g. -10 for 10% off); return count.

    A bulk UPDATE sends no signals, so the invalidation is explicit.
    """
    product_ids = list(product_ids)
    factor = (Decimal(100) + percent) / Decimal(100)
    if factor <= 0:
        raise ValueError("A price cannot drop by 100% or more.")
    # A product's variants with prices of their own change with it; the others follow it.
    products = (
        Product.objects.select_for_update()
        .filter(Q(pk__in=product_ids) | Q(parent_id__in=product_ids), price__isnull=False)
        .order_by("pk")
    )
    updated, changed = 0, set(product_ids)
    for product in products:
        new_price = (product.price * factor).quantize(Decimal("0.01"), ROUND_HALF_UP)
        Product.objects.filter(pk=product.pk).update(
            price=max(new_price, Decimal("0.01")), updated_at=timezone.now()
        )
        updated += product.pk in changed
        changed.add(product.pk)
    products_changed(changed, price_only=True)
    return updated


def popular_rank() -> int:
    """Rank the top 10% of active products by views over the last 24 hours; return how many."""
    size = max(1, Product.objects.filter(is_active=True, parent__isnull=True).count() // 10)
    return cache.popular_rank(size)


def catalog_warm_plan(products: int | None = None) -> list[Warm]:
    """What `warm_cache` loads for the catalog: the home page and the first page of every
    category, then, as the tail, the cards and pages of the `products` most popular active
    products (every one if None; the hourly ranking first, then the top rated)."""
    from . import selectors

    limit = products if products is not None else Product.objects.filter(parent=None).count()
    popular = cache.popular_ids(limit)
    if len(popular) < limit:
        top = Product.objects.shown().filter(parent__isnull=True).order_by("-rating_score", "id")
        seen = set(popular)
        popular += [i for i in top.values_list("id", flat=True)[:limit] if i not in seen]
        popular = popular[:limit]
    slugs = dict(Product.objects.shown().filter(pk__in=popular).values_list("pk", "slug"))
    # Home and listings are few and always loaded (a hit costs a read); pages are skipped
    # while on the shelf.
    plan = [Warm("catalog.home", selectors.home_page)]
    active = Category.objects.shown().order_by("pk")
    for slug in active.values_list("slug", flat=True):
        plan.append(Warm("catalog.listing", partial(selectors.category_page, slug, "", 1)))
    ids = [pid for pid in popular if pid in slugs]
    for start in range(0, len(ids), CARDS_PER_WARM):
        chunk = ids[start : start + CARDS_PER_WARM]
        plan.append(Warm("catalog.product", partial(selectors.product_cards, chunk), tail=True))
        for pid in chunk:
            page = partial(selectors.product_page, slugs[pid], record=False)
            plan.append(Warm("catalog.page", page, cache.PAGE.key(slugs[pid]), tail=True))
    return plan


class ReviewError(Exception):
    """A review the shop refuses, with the reason for the shopper."""


ALREADY_REVIEWED = "You have already reviewed this product."


def review_submit(
    *, product_id: int, user_id: int, author: str, rating: int, title: str, text: str
) -> Review:
    """Record a buyer's review, waiting for moderation. Whether the user bought the product is
    the caller's check (orders are above the catalog); one review per buyer and product, and a
    rating of 1 to 5, are enforced here and by PostgreSQL's constraints."""
    if not 1 <= rating <= 5:
        raise ReviewError("Choose a rating from 1 to 5 stars.")
    if not Product.objects.shown().filter(pk=product_id, parent__isnull=True).exists():
        raise ReviewError("Sorry, that product is not available.")
    if Review.objects.filter(product_id=product_id, user_id=user_id).exists():
        raise ReviewError(ALREADY_REVIEWED)
    try:
        with transaction.atomic():
            return Review.objects.create(
                product_id=product_id, user_id=user_id, author=author[:150],
                rating=rating, title=title, text=text,
            )  # fmt: skip
    except IntegrityError as exc:  # a second submit that raced the first
        raise ReviewError(ALREADY_REVIEWED) from exc


def product_ratings_refresh(product_ids: Iterable[int]) -> None:
    """Recompute `rating` and `review_count` of these products from their approved reviews and
    expire every page showing them (the product, its cards, listings, home) and their review
    pages after the commit.

    Each product row is locked first, so that two moderations of the same product in
    concurrent transactions compute one after the other: the second sees the first's review.
    """
    ids = sorted(set(product_ids))
    if not ids:
        return
    with transaction.atomic():
        locked = list(
            Product.objects.select_for_update().filter(pk__in=ids).values_list("pk", flat=True)
        )
        approved = Q(reviews__status=Review.Status.APPROVED)
        totals = (
            Product.objects.filter(pk__in=locked)
            .annotate(average=Avg("reviews__rating", filter=approved),
                      count=Count("reviews", filter=approved))
            .values_list("pk", "average", "count")
        )  # fmt: skip
        for pk, average, count in totals:
            rating = Decimal(average or 0).quantize(Decimal("0.1"), ROUND_HALF_UP)
            # update(): the rating is derived data, not an edit of the product (no signal).
            Product.objects.filter(pk=pk).update(rating=rating, review_count=count)
        category_ids = set(
            Product.objects.filter(pk__in=locked).values_list("category_id", flat=True)
        )
        cache.invalidate(
            locked, _with_ancestors(category_ids),
            then=lambda: _products_write_through(locked),
        )  # fmt: skip


def _products_write_through(product_ids: list[int]) -> None:
    from .selectors import product_cards

    product_cards(product_ids)


@transaction.atomic
def reviews_moderate(review_ids: Iterable[int], status: str) -> int:
    """Approve or reject reviews (the admin's actions); return how many changed."""
    if status not in Review.Status.values:
        raise ValueError(f"unknown review status {status!r}")
    reviews = Review.objects.filter(pk__in=list(review_ids)).exclude(status=status)
    product_ids = list(reviews.values_list("product_id", flat=True))
    changed = reviews.update(status=status)
    product_ratings_refresh(product_ids)
    return changed
