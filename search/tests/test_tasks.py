"""Query popularity, the beat task, warm_cache and top_queries against the test Redis."""

import io
import time

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django_redis import get_redis_connection

from search import cache, selectors, services, tasks
from search.models import SearchDocument, SearchTerm
from search.selectors import SearchParams
from shelf import stats

from .factories import product, search_catalog

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def catalog():
    return search_catalog()


def loads() -> dict[str, int]:
    stats.maybe_flush(force=True)
    return {k: v for k, v in stats.read_totals().items() if k.endswith(":load")}


def count(query: str, n: int, hours_ago: int = 0) -> None:
    hour = int(time.time() // 3600) - hours_ago
    get_redis_connection("default").zincrby(cache.QUERIES_KEY.format(hour=hour), n, query)


def entry_exists(query: str) -> bool:
    key = cache.RESULTS.key(SearchParams(query).part)
    return bool(get_redis_connection("default").exists(key))


def test_popularity_sums_the_last_24_hours_only():
    count("laptop", 3)
    count("laptop", 2, hours_ago=23)
    count("phone", 4, hours_ago=1)
    count("fidget spinner", 50, hours_ago=24)  # yesterday's fad
    assert services.search_queries_top(10) == [("laptop", 5), ("phone", 4)]


def test_per_request_counts_are_buffered_into_this_hours_set():
    cache.record_query("laptop")
    cache.record_query("laptop")
    hour_key = cache.QUERIES_KEY.format(hour=int(time.time() // 3600))
    redis = get_redis_connection("default")
    assert redis.zscore(hour_key, "laptop") is None  # not before the flush
    stats.maybe_flush(force=True)
    assert redis.zscore(hour_key, "laptop") == 2
    assert 24 * 3600 < redis.ttl(hour_key) <= cache.QUERIES_TTL


def test_top_queries_prints_the_top_n():
    for i, query in enumerate(["laptop", "phone", "headphones", "shoes"]):
        count(query, 10 - i)
    out = io.StringIO()
    call_command("top_queries", limit=3, stdout=out)
    lines = out.getvalue().splitlines()
    assert [line.split()[1:] for line in lines] == [
        ["10", "laptop"], ["9", "phone"], ["8", "headphones"],
    ]  # fmt: skip
    out = io.StringIO()
    get_redis_connection("default").flushdb()
    call_command("top_queries", stdout=out)
    assert "No searches" in out.getvalue()


@override_settings(SEARCH_SEED_QUERIES=["Laptop", "headphones", "laptop", "  "])
def test_without_history_the_seed_queries_are_warmed(catalog, django_assert_num_queries):
    # .result, not .get(): Celery's "would block" flag is process-global, and concurrent eager
    # tasks in other tests' threads can leave it set; the eager result is already there.
    assert tasks.search_warm.delay().result == 2
    assert entry_exists("laptop") and entry_exists("headphones")
    with django_assert_num_queries(0):
        found = selectors.search(SearchParams("headphones"))
    assert {c["name"] for c in found.cards} == {
        "Sonora Studio Headphones", "Basswell Wave Headphones",
    }  # fmt: skip


@override_settings(SEARCH_POPULAR_QUERIES=3, SEARCH_SEED_QUERIES=["laptop", "charger"])
def test_the_top_queries_come_first_and_the_seed_list_fills_up(catalog):
    count("nordvik", 9)
    count("sonora", 5)
    assert services.search_warm_queries(3) == ["laptop", "charger"]  # not ranked yet
    services.search_queries_rank()
    assert services.search_warm_queries(3) == ["nordvik", "sonora", "laptop"]


@override_settings(SEARCH_POPULAR_QUERIES=3, SEARCH_SEED_QUERIES=["charger"])
def test_warm_cache_twice_is_idempotent_and_leaves_the_top_queries_as_hits(
    catalog, client, django_assert_num_queries
):
    for query, times in (("laptop", 3), ("headphones", 2), ("nordvik", 1)):
        count(query, times)

    out = io.StringIO()
    call_command("warm_cache", products=5, stdout=out)
    assert "search.results 3" in out.getvalue()
    assert loads().get("search.results:load") == 3
    before = loads()
    call_command("warm_cache", products=5, stdout=io.StringIO())
    assert loads() == before  # the second run loaded nothing at all
    for query in ("laptop", "headphones", "nordvik"):
        assert entry_exists(query)
        with django_assert_num_queries(0):
            response = client.get("/search/", {"q": query})
        assert response.status_code == 200
    assert not entry_exists("charger")  # the top 3 were all history


def test_the_warm_plan_leaves_the_top_queries_rendered_pages_on_the_shelf(
    catalog, client, django_assert_num_queries
):
    count("laptop", 2)
    count("headphones", 1)
    services.search_warm(queries=2)
    before = loads()
    for query in ("laptop", "headphones"):
        with django_assert_num_queries(0):
            response = client.get("/search/", {"q": query})
        assert response.status_code == 200 and "Results for" in response.content.decode()
    assert loads() == before, "the pages were on the shelf: nothing was loaded or rendered"
    assert entry_exists("laptop"), "the API's results entry is warm too"


def test_popular_queries_are_stored_for_ten_minutes_after_ranking(catalog):
    count("laptop", 1)
    services.search_warm(queries=1)
    raw = get_redis_connection("default").get(cache.RESULTS.key(SearchParams("laptop").part))
    assert b'"popular":true' in raw


def test_the_vocabulary_is_rebuilt_by_the_task_only_when_products_changed(catalog):
    assert not SearchTerm.objects.exists()
    services.search_warm(queries=0)
    assert SearchTerm.objects.filter(word="nordvik").exists()
    SearchTerm.objects.all().delete()
    services.search_warm(queries=0)
    assert not SearchTerm.objects.exists()  # nothing changed: not rebuilt
    product("Zephyrine Laptop", catalog["laptops"])
    services.search_warm(queries=0)
    assert SearchTerm.objects.filter(word="zephyrine").exists()
    assert selectors.search(SearchParams("zephyrin"), record=False).corrected is None  # prefix
    assert selectors.search(SearchParams("zefyrine"), record=False).corrected == "zephyrine"


def _analyses() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT analyze_count FROM pg_stat_user_tables WHERE relname = %s",
            [SearchDocument._meta.db_table],
        )
        return cursor.fetchone()[0]


def test_a_reloaded_catalog_leaves_the_documents_with_fresh_planner_statistics(catalog):
    before = _analyses()
    services.search_catalog_reloaded()  # outside a transaction: runs at once
    assert _analyses() == before + 1
