"""The catalog pages on a real 6-node Redis Cluster, and a master failing over while pages
are being served.

The toolkit's, catalog's and search's own tests run on the cluster too (`also_on("cluster")`,
shelf/tests/clustering.py).
"""

import time

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_redis import get_redis_connection

from catalog import cache as catalog_cache
from shelf import backend
from shelf.tests import clustering
from shelf.tests.servers import redis_cluster

from .test_views import warm

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("on_cluster")]

FAILOVER_BUDGET = 15.0  # seconds of requests after the kill, at most


@pytest.mark.django_db(transaction=True)
def test_product_page_on_a_warm_cluster_runs_no_sql(catalog, client, django_assert_num_queries):
    product = catalog["products"][0]
    warm(client, f"/p/{product.slug}/")
    with django_assert_num_queries(0):
        response = client.get(f"/p/{product.slug}/")
    assert response.status_code == 200 and "Only 3 left" in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_entries_and_their_tags_are_spread_over_the_masters(catalog, client, on_cluster):
    warm(client, "/", "/c/computers/", *(f"/p/{p.slug}/" for p in catalog["products"]))
    r = get_redis_connection("default")
    per_master = {port: r.dbsize(target_nodes=r.get_node("127.0.0.1", port))
                  for port in on_cluster.masters()}  # fmt: skip
    assert len(per_master) == 3 and all(per_master.values()), per_master


def test_django_cache_api_get_set_delete_many_across_slots():
    from django.core.cache import cache

    data = {f"thing:{i}": {"i": i} for i in range(50)}
    r = get_redis_connection("default")
    assert len({r.keyslot(cache.make_key(k)) for k in data}) > 1
    cache.set_many(data, 60)
    assert cache.get_many(list(data)) == data
    cache.delete_many(list(data)[:25])
    assert cache.get_many(list(data)) == dict(list(data.items())[25:])


def test_popular_ranking_keys_share_one_slot():
    hour = int(time.time() // 3600)
    keys = [catalog_cache.POPULAR_KEY] + [catalog_cache.VIEWS_KEY.format(hour=h)
                                          for h in range(hour - 23, hour + 1)]  # fmt: skip
    r = get_redis_connection("default")
    assert len({r.keyslot(k) for k in keys}) == 1


@pytest.mark.django_db(transaction=True)
def test_pages_keep_answering_while_a_master_fails_over(catalog, capsys):
    """Kill the master holding a warm page: misses are allowed, 5xx are not."""
    product = catalog["products"][0]
    urls = ["/", "/c/computers/", "/c/laptops/?page=2", f"/p/{product.slug}/",
            f"/api/v1/products/{catalog['products'][1].pk}"]  # fmt: skip
    # A cluster of its own: the shared one stays whole for the other tests.
    with redis_cluster() as nodes, _cache_on(nodes.url):
        browser = Client()
        warm(browser, *urls)
        victim = nodes.master_of(catalog_cache.PAGE.key(product.slug))
        replica = nodes.replica_of(victim)
        # A shorter open-circuit spell, so the test sees the shelf come back within its budget.
        backend.breaker.reset_timeout = 1
        try:
            nodes.kill(victim)
            killed = time.monotonic()
            sent, statuses, promoted_after, sql_free_hit_after = 0, {}, None, None
            while time.monotonic() - killed < FAILOVER_BUDGET:
                for url in urls:
                    response = browser.get(url)
                    sent += 1
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if promoted_after is None and replica in nodes.masters(asked=replica):
                    promoted_after = time.monotonic() - killed
                if promoted_after is not None and sql_free_hit_after is None:
                    with CaptureQueriesContext(connection) as queries:
                        response = browser.get(f"/p/{product.slug}/")
                    sent += 1
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                    if not queries.captured_queries:
                        sql_free_hit_after = time.monotonic() - killed
                if sql_free_hit_after is not None:
                    break
                time.sleep(0.02)
        finally:
            backend.breaker.reset_timeout = _settings_reset()
    errors = sum(n for status, n in statuses.items() if status >= 500)
    with capsys.disabled():
        print(
            f"\ncluster failover: killed master :{victim}; replica :{replica} promoted after "
            f"{promoted_after and round(promoted_after, 1)} s; first SQL-free hit on its keys "
            f"after {sql_free_hit_after and round(sql_free_hit_after, 1)} s; {sent} requests, "
            f"statuses {statuses}, {errors} errors (5xx)"
        )
    assert errors == 0, statuses
    assert set(statuses) == {200}, statuses
    assert promoted_after is not None, "the replica was not promoted in time"
    assert sql_free_hit_after is not None, "the promoted replica did not serve the warm page"


def _settings_reset() -> int:
    from django.conf import settings

    return settings.SHELF_BREAKER_RESET


def _cache_on(url: str):
    from django.test import override_settings

    return override_settings(CACHES=clustering.cluster_caches(url))
