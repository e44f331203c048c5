"""Search's shelf entries and query counters. Nothing else in the app touches Redis.

Entries
- `search.results` per hash of (normalised query, filters, sort, page): the page's product
  ids, the total, the category facets and the typo correction, never the cards themselves.
  Cards come from the product cache (catalog.selectors.product_cards), so a new price shows in
  search results on the next request without touching these entries. The JSON API reads them.
- `search.page` per hash of (the query as typed, after display_query, and the results entry's
  part): the rendered results page with visitor and stock slots (shelf.pages), `{"html",
  "stock": [ids shown], "total", "popular"}`, so a hit renders no template and runs no SQL. It
  records the results entry's tags and `product:<id>` of every card, since it prints their
  names, prices and pictures. Only cleaned values make the key, so junk parameters add none.

Tags (bumped after commit)
- `ns:search.results`, the results' namespace generation (pages record it too): a product
  came, went, was renamed, moved, re-described or (de)activated, or a category was renamed.
  Every search entry is stale then.
- `product:<id>` (catalog's): recorded by the pages, for the cards they print.
- `search:prices`: a price changed. Only entries whose ids depend on prices (sorted by price or
  filtered by a price range) record it.

Staleness: none after a commit that bumps a tag, except two orderings chosen at load time and
kept until the TTL: "in stock only" (stock moves with every sale; each card's badge is live)
and "sort by rating" (ratings drift slowly). A page built from a results entry near the end of
its life keeps that ordering for up to a second TTL. A bump that cannot reach Redis waits in
the outbox (shelf/outbox.py) and is applied before Redis is read again.

Counters (this Redis, not PostgreSQL: losing them only affects what gets warmed)
- `{search:queries}:<unix hour>`: searches per normalised query in that hour, kept 25 hours.
- `{search:queries}`: the last 24 hourly sets summed by `queries_rank`; its first POPULAR_SIZE
  members are the "popular" queries (10-minute TTL, warmed every 5 minutes).
"""

import contextlib
from pathlib import Path

from django.conf import settings

import shelf
from shelf import backend
from shelf.compression import Dictionary
from shelf.pages import prepare_page
from shelf.ranking import HourlyRanking

SCHEMA = 1
PAGE_SCHEMA = 2
POPULAR_TTL = 600
REGULAR_TTL = 300
EMPTY_TTL = 60
PRICES_TAG = "search:prices"
QUERIES = HourlyRanking("search:queries")
QUERIES_KEY = QUERIES.hour_key
QUERIES_TTL = QUERIES.ttl
TOP_KEY = QUERIES.top_key
TOP_KEEP = 1000  # how many ranked queries `top_queries` can show
TERMS_BUILT_KEY = "search:terms:built"


def _results_ttl(data: dict) -> int:
    """Popular queries 10 minutes, others 5, empty results 1 (the seed's tiers)."""
    if not data["total"]:
        return EMPTY_TTL
    return POPULAR_TTL if data.get("popular") else REGULAR_TTL


RESULTS = shelf.Namespace("search.results", schema=SCHEMA, ttl=_results_ttl, negative_ttl=EMPTY_TTL)
# The rendered page keeps its results entry's tiers: its orderings ("in stock only", "sort by
# rating") are the entry's, so a longer life would only keep them longer.
PAGE = shelf.Namespace(
    "search.page", schema=PAGE_SCHEMA, ttl=_results_ttl, negative_ttl=EMPTY_TTL,
    prepare=prepare_page, dictionary=Dictionary(Path(__file__).with_name("pages.zdict")),
)  # fmt: skip


def popular_size() -> int:
    """How many of the top queries count as popular (and are warmed)."""
    return settings.SEARCH_POPULAR_QUERIES


def results_get(part: str, loader) -> dict | None:
    return shelf.fetch(RESULTS, part, loader)


def page_get(part: str, loader, follow):
    return shelf.fetch_with(PAGE, part, loader, follow)


def results_versions(priced: bool) -> dict[str, str]:
    """The tags a results entry depends on (the generation, and the price tag if `priced`),
    to record with a page built from it: read them before the entry."""
    return shelf.versions([RESULTS.generation, *([PRICES_TAG] if priced else [])])


def prices_versions() -> dict[str, str]:
    """The price tag's version, to record with a price-dependent entry: read it before the SQL."""
    return shelf.versions([PRICES_TAG])


def invalidate_results() -> None:
    """Expire every search entry once the transaction commits."""
    shelf.bump_on_commit(RESULTS.generation)


def invalidate_prices() -> None:
    """Expire the price-sorted and price-filtered entries once the transaction commits."""
    shelf.bump_on_commit(PRICES_TAG)


def record_query(query: str) -> None:
    """Count a search in this hour's ranking (buffered, flushed with the shelf's counters)."""
    QUERIES.record(query)


def queries_rank() -> int:
    """Sum the last 24 hourly counts into the top set; return how many queries it holds."""
    return QUERIES.rank(TOP_KEEP)


def top_queries(limit: int) -> list[tuple[str, int]]:
    """The most searched queries as last ranked by `queries_rank`, with their counts."""
    return QUERIES.top(limit)


def is_popular(query: str) -> bool:
    """Whether the query is among the current top POPULAR_SIZE (decides its TTL)."""
    position = QUERIES.position(query)
    return position is not None and position < popular_size()


def vocabulary_outdated() -> tuple[bool, str | None]:
    """Whether products changed since the typo vocabulary was rebuilt, and the current search
    generation to pass to `vocabulary_built` (read before rebuilding, so that a change during
    the rebuild leaves it outdated)."""
    try:
        current = shelf.versions([RESULTS.generation]).get(RESULTS.generation)
        built = backend.call(lambda r: r.get(TERMS_BUILT_KEY))
    except backend.ShelfUnavailable:
        return True, None
    return current is None or built is None or built.decode() != current, current


def vocabulary_built(generation: str | None) -> None:
    """Remember the generation the vocabulary was rebuilt under."""
    if generation is None:
        return
    with contextlib.suppress(backend.ShelfUnavailable):
        backend.call(lambda r: r.set(TERMS_BUILT_KEY, generation, ex=QUERIES_TTL))
