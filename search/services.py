"""Writes for search: invalidation the catalog asks for, the typo vocabulary, query ranking
and warming."""

from functools import partial

from django.conf import settings
from django.db import connection, transaction

from shelf.warming import Warm

from . import cache, selectors
from .models import SearchDocument, SearchTerm

# Words of shown products' names and brands and of their categories' names, as the 'simple'
# configuration splits them (lower case, unstemmed: a correction must be a word to show).
# About 0.7 s (623 words) on the 100,000-product demo catalog.
_VOCABULARY_SQL = f"""
INSERT INTO {SearchTerm._meta.db_table} (word, documents)
SELECT word, ndoc FROM ts_stat($$
    SELECT to_tsvector('simple', concat_ws(' ', p.name, p.brand, c.name, parent.name))
    FROM catalog_product p
    JOIN catalog_category c ON c.id = p.category_id
    LEFT JOIN catalog_category parent ON parent.id = c.parent_id
    WHERE p.is_active AND c.is_active AND (parent.id IS NULL OR parent.is_active)
$$)
WHERE length(word) BETWEEN 3 AND 64 AND word ~ '^[[:alpha:]]+$'
"""


def search_catalog_changed() -> None:
    """Products came, went, or changed their words or place: expire every search entry."""
    cache.invalidate_results()


def search_prices_changed() -> None:
    """Prices changed: expire the entries sorted or filtered by price (cards show new prices
    anyway, from the product cache)."""
    cache.invalidate_prices()


def search_terms_refresh() -> int:
    """Rebuild the typo vocabulary from the catalog; return how many words it holds.

    Readers see the old vocabulary until the new one commits.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {SearchTerm._meta.db_table}")
        cursor.execute(_VOCABULARY_SQL)
        return cursor.rowcount


def search_terms_refresh_if_outdated() -> int | None:
    """Rebuild the vocabulary if products changed since the last rebuild; return its size,
    or None if it was current."""
    outdated, generation = cache.vocabulary_outdated()
    if not outdated:
        return None
    words = search_terms_refresh()
    cache.vocabulary_built(generation)
    return words


def search_queries_rank() -> int:
    """Sum the last 24 hours of query counts into the ranking; return how many it holds."""
    return cache.queries_rank()


def search_queries_top(limit: int) -> list[tuple[str, int]]:
    """The `limit` most searched queries of the last 24 hours with their counts, ranked now."""
    cache.queries_rank()
    return cache.top_queries(limit)


def search_warm_queries(limit: int) -> list[str]:
    """The queries to keep warm: the top `limit` of the last 24 hours as last ranked, filled up
    from SEARCH_SEED_QUERIES while there is not enough history."""
    queries = [q for q, _count in cache.top_queries(limit)]
    for raw in settings.SEARCH_SEED_QUERIES:
        if len(queries) >= limit:
            break
        query = selectors.normalise(raw)
        if query and query not in queries:
            queries.append(query)
    return queries


def search_warm_plan(queries: int | None = None) -> list[Warm]:
    """What `warm_cache` and the beat task do for search: rebuild the typo vocabulary if
    products changed since it was built, then load the first results page of each of the top
    `queries` queries (SEARCH_POPULAR_QUERIES by default, ranked now): the rendered page as
    /search/?q=<query> serves it, which loads the results entry (the API's) and the cards."""
    cache.queries_rank()
    limit = cache.popular_size() if queries is None else queries
    # The ranking holds normalised queries; typed in lower case, as most are, a query is shown
    # as it is normalised, so that is the page its shoppers get.
    pages = [
        Warm(
            "search.results",
            partial(selectors.results_page, q, selectors.SearchParams(q), record=False),
        )
        for q in search_warm_queries(limit)
    ]
    return [Warm("search.terms", search_terms_refresh_if_outdated), *pages]


def search_warm(queries: int | None = None) -> int:
    """Run the search warm plan; return how many results pages it warmed."""
    plan = search_warm_plan(queries)
    for entry in plan:
        entry.load()
    return sum(1 for entry in plan if entry.label == "search.results")


def _documents_analyze() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {SearchDocument._meta.db_table}")


def search_catalog_reloaded() -> None:
    """The whole catalog was replaced (seed_catalog): expire every search entry, and once the
    transaction commits refresh the documents' planner statistics (the seed analyses the
    catalog's tables, which its rows reached this one through) and rebuild the vocabulary."""
    cache.invalidate_results()
    transaction.on_commit(_documents_analyze, robust=True)
    transaction.on_commit(search_terms_refresh_if_outdated, robust=True)
