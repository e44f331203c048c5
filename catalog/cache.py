"""The catalog's shelf entries, their keys, TTLs and tags. Nothing else in the app touches Redis.

Entries
- `catalog.product` per id: the fields a card or the API needs (about 300 bytes of JSON).
- `catalog.reviews` per product id and page (2 and up; the first is on the product page):
  the rendered page of approved reviews, asked for only up to the product's last review page
  (catalog.selectors), so the number of entries is bounded by the reviews there are.
- `catalog.page` per slug, `catalog.listing` per category/sort/page/filters and `catalog.home`:
  whole rendered pages with visitor slots (see shelf.pages), so a hit renders no template (a
  listing also holds its total, pages and facets as data, for `/api/v1/categories/<slug>`). The
  listing's filters are part of its key in one canonical order (catalog.selectors.Filters), from
  bounded sets only: fixed price buckets and rating thresholds, "in stock", and the brands of the
  category; a value outside them is a 404 that stores nothing.
- `catalog.menu`: the header's department menu (the active categories), rendered once for every
  page; shared pages embed it and record `catalog:categories`.

Tags (bumped after commit by catalog.services)
- `product:<id>`: the product, its images, its approved reviews (their ratings are the
  product's), or its category's name or active state changed. The product page and its further
  review pages depend on it. (A tag of the reviews alone would always be bumped with this one,
  and cost every cached product another key.)
- `listing:<category id>`: a product in the category or below it changed, came or went.
- `catalog:home`, `catalog:slugs` (a product appeared or its slug changed), `catalog:categories`
  (a category was added, renamed, moved or (de)activated: every page's header menu).
- `instock:<category id>`: a product in the category or below it sold out or came back in stock.
  Every listing records it: its "In stock" count and, when filtered, its products depend on
  which products have stock. A sale that leaves units on hand changes neither, so it bumps
  nothing here (the badge is a stock slot, live on every hit).

Staleness: none after a commit that bumps the tags; a bump that cannot reach Redis waits in the
outbox (shelf/outbox.py) and is applied before Redis is read again. Related products and
"popular" lists are chosen when a page is built and may lag rating changes by up to the page's
TTL; prices on them never lag. "Top rated" follows a product's own reviews at once and the
catalog's mean rating (its prior) within the hour (catalog.tasks.rating_prior_refresh).
"""

from pathlib import Path

import shelf
from shelf.compression import Dictionary
from shelf.pages import prepare_page
from shelf.ranking import HourlyRanking

POPULAR_TTL = 3600
REGULAR_TTL = 1800
NEW_TTL = 300
NEW_FOR = 24 * 3600
PAGE_TTL = 1800
HOME_TTL = 300
# The hourly view counters and the ranking built from them share the hash tag
# `{catalog:popular}`, so that ZUNIONSTORE and its MULTI work on a Redis Cluster (one slot).
VIEWS = HourlyRanking("catalog:popular")
POPULAR_KEY = VIEWS.top_key
VIEWS_KEY = VIEWS.hour_key


def _product_ttl(data: dict) -> int:
    """Popular products 1 hour, regular 30 minutes, new ones (under a day old) 5 minutes."""
    return {"p": POPULAR_TTL, "n": NEW_TTL}.get(data.get("tier"), REGULAR_TTL)


def product_tag(product_id: int) -> str:
    return f"product:{product_id}"


def listing_tag(category_id: int) -> str:
    return f"listing:{category_id}"


def in_stock_tag(category_id: int) -> str:
    return f"instock:{category_id}"


HOME_TAG = "catalog:home"
SLUGS_TAG = "catalog:slugs"
CATEGORIES_TAG = "catalog:categories"

# A product's card fields are 400-600 B of JSON, much of it the same picture paths and keys from
# card to card: a small dictionary of their own takes them to about a third (the bench reports
# the bytes per cached product; a card is read once per process into L1, so decompression is
# paid per process, not per page).
CARDS = Dictionary(Path(__file__).with_name("cards.zdict"), min_bytes=256, size=16_384)
PRODUCT = shelf.Namespace(
    "catalog.product",
    schema=3,
    ttl=_product_ttl,
    key_tags=lambda pid: (product_tag(pid),),
    dictionary=CARDS,
)
# Rendered pages are stored compressed with a dictionary trained on the shop's own pages
# (`manage.py train_dictionaries`): a product page's 21 KB of HTML take under 1 KB.
# Level 9, not zstd's default 3: measured on 50 product pages of 21 KB with this dictionary,
# 982 -> 780 B for about 0.3 ms more per page, paid once per build (a miss renders for
# milliseconds anyway); reading is as fast at any level.
PAGES = Dictionary(Path(__file__).with_name("pages.zdict"), level=9)
# Product pages, most of what the shelf holds, have a dictionary of their own, of 1 MiB rather
# than zstd's 110 KiB: pages of one category share their related products' cards and the
# category's words, and a larger dictionary holds them for every category. Measured on the
# 4,900 product pages of the demo catalog (2,000 to train on, 600 others): 754 B a page at
# 110 KiB, 602 at 250 KiB, 493 at 500 KiB, 429 at 1 MiB. On categories it was not trained on,
# 845-884 B at any size: a shop trains its own (SHELF_DICTIONARY_DIR). Trained together with
# the listings (of another template) it came out at 310 KiB and did worse for both. It costs
# each process about 12 MB (zstd's tables for level 9); decompressing a page about 10 µs.
PRODUCT_PAGES = Dictionary(
    Path(__file__).with_name("product-pages.zdict"), level=9, size=1_048_576
)
PAGE = shelf.Namespace(
    "catalog.page", schema=4, ttl=PAGE_TTL, prepare=prepare_page, dictionary=PRODUCT_PAGES
)
LISTING = shelf.Namespace(
    "catalog.listing", schema=4, ttl=PAGE_TTL, prepare=prepare_page, dictionary=PAGES
)
HOME = shelf.Namespace(
    "catalog.home", schema=2, ttl=HOME_TTL, prepare=prepare_page, dictionary=PAGES
)
REVIEWS = shelf.Namespace(
    "catalog.reviews", schema=1, ttl=PAGE_TTL, prepare=prepare_page, dictionary=PAGES
)
# Exact through its tag; the TTL only bounds a bump that was lost anyway.
MENU = shelf.Namespace(
    "catalog.menu", schema=1, ttl=PAGE_TTL, key_tags=lambda _part: (CATEGORIES_TAG,)
)
NAMESPACES = (PRODUCT, PAGE, LISTING, HOME, REVIEWS, MENU)


def record_view(product_id: int) -> None:
    """Count a product view in this hour's ranking (buffered, flushed with the counters)."""
    VIEWS.record(str(product_id))


def popular_ids(limit: int) -> list[int]:
    """The most viewed products of the last 24 hours, as last ranked by `popular_rank`."""
    return [int(member) for member, _count in VIEWS.top(limit)]


def popular_among(product_ids: list[int]) -> set[int]:
    """Which of these products are in the popular set (for their TTL tier)."""
    ranked = VIEWS.ranked([str(i) for i in product_ids])
    return {pid for pid, is_ranked in zip(product_ids, ranked, strict=True) if is_ranked}


def popular_rank(size: int) -> int:
    """Rank the `size` most viewed products of the last 24 hours; return how many."""
    return VIEWS.rank(size)


def product_get_many(product_ids: list[int], loader) -> dict[int, dict | None]:
    return shelf.fetch_many(PRODUCT, product_ids, loader)


def page_get(slug: str, loader, follow):
    return shelf.fetch_with(PAGE, slug, loader, follow)


def listing_get(part: str, loader, follow):
    return shelf.fetch_with(LISTING, part, loader, follow)


def reviews_get(product_id: int, page: int, loader):
    return shelf.fetch(REVIEWS, f"{product_id}:{page}", loader)


def home_get(loader, follow):
    return shelf.fetch_with(HOME, "home", loader, follow)


def menu_get(loader) -> str:
    return shelf.fetch(MENU, "menu", loader)


def page_versions(*tags: str) -> dict[str, str]:
    """Versions to record with a page, read before the data it shows."""
    return shelf.versions(tags)


def invalidate(
    product_ids=(), category_ids=(), *, slugs=False, categories=False, then=None
) -> None:
    """Bump the tags of changed products (their reviews too) and categories once the transaction
    commits."""
    tags = [product_tag(i) for i in product_ids] + [listing_tag(i) for i in category_ids]
    tags.append(HOME_TAG)
    if slugs:
        tags.append(SLUGS_TAG)
    if categories:
        tags.append(CATEGORIES_TAG)
    shelf.bump_on_commit(*tags, then=then)


def invalidate_in_stock(category_ids) -> None:
    """Expire the listings of these categories (whose products' stock ran out or came back)
    once the transaction commits."""
    shelf.bump_on_commit(*(in_stock_tag(i) for i in category_ids))


def invalidate_listings() -> None:
    """Expire every listing (their "Top rated" order changed) once the transaction commits."""
    shelf.bump_on_commit(LISTING.generation, HOME_TAG)


def invalidate_everything() -> None:
    """Expire every catalog entry (after a bulk load that sent no signals)."""
    shelf.bump_on_commit(*(ns.generation for ns in NAMESPACES), SLUGS_TAG, CATEGORIES_TAG)
