"""The toolkit and the catalog pages on a real 6-node Redis Cluster, and a master failing over.

The same tests as on one server (imported below: pytest runs them again here, with the cache
alias on the cluster), then a master is killed while pages are being served.
"""

import time

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_redis import get_redis_connection

from catalog import cache as catalog_cache
from catalog.tests import test_cache as catalog_cache_tests
from catalog.tests import test_views as catalog_views
from shelf import backend
from shelf.tests import clustering
from shelf.tests import test_core as shelf_tests
from shelf.tests.servers import redis_cluster

pytestmark = pytest.mark.slow

# Fixtures: the cluster (one for the module, emptied before each test) and the catalog's.
redis_cluster_nodes = clustering.redis_cluster_nodes
on_cluster = clustering.on_cluster
catalog = catalog_views.catalog
warm = catalog_views.warm

# The toolkit's tests, as they are.
test_miss_then_hit_runs_loader_once_and_stores_json = (
    shelf_tests.test_miss_then_hit_runs_loader_once_and_stores_json
)
test_bump_invalidates_only_entries_with_that_tag = (
    shelf_tests.test_bump_invalidates_only_entries_with_that_tag
)
test_namespace_generation_expires_every_entry = (
    shelf_tests.test_namespace_generation_expires_every_entry
)
test_none_is_cached_briefly = shelf_tests.test_none_is_cached_briefly
test_ttl_has_jitter_and_grace = shelf_tests.test_ttl_has_jitter_and_grace
test_fifty_threads_on_a_cold_key_run_the_loader_once = (
    shelf_tests.test_fifty_threads_on_a_cold_key_run_the_loader_once
)
test_expired_entry_is_served_stale_while_another_caller_refreshes = (
    shelf_tests.test_expired_entry_is_served_stale_while_another_caller_refreshes
)
test_expired_entry_is_refreshed_by_the_caller_that_takes_the_lock = (
    shelf_tests.test_expired_entry_is_refreshed_by_the_caller_that_takes_the_lock
)
test_waiting_for_a_stuck_loader_is_bounded = shelf_tests.test_waiting_for_a_stuck_loader_is_bounded
test_loader_that_read_before_a_commit_cannot_store_a_value_served_later = (
    shelf_tests.test_loader_that_read_before_a_commit_cannot_store_a_value_served_later
)
test_bump_waits_for_the_commit = shelf_tests.test_bump_waits_for_the_commit
test_shelf_disabled_sends_every_read_to_the_loader = (
    shelf_tests.test_shelf_disabled_sends_every_read_to_the_loader
)

# The catalog's cache and page tests. Imported tests keep their own decorators but not their
# module's `pytestmark`, so each gets the database access its module gives it (transactional
# for pages, so that on_commit invalidation runs). The round-trip test stays on one server: on
# a cluster a read is one round trip per master holding its keys.
_db = pytest.mark.django_db
_transactional_db = pytest.mark.django_db(transaction=True)
test_ttl_tiers_new_regular_and_popular = _db(
    catalog_cache_tests.test_ttl_tiers_new_regular_and_popular
)
test_product_entry_holds_only_card_fields_and_is_small = _db(
    catalog_cache_tests.test_product_entry_holds_only_card_fields_and_is_small
)
test_category_and_home_pages_on_a_warm_shelf_run_no_sql = _transactional_db(
    catalog_views.test_category_and_home_pages_on_a_warm_shelf_run_no_sql
)
test_listing_pages_show_subcategories_products_sorted_and_paged = _transactional_db(
    catalog_views.test_listing_pages_show_subcategories_products_sorted_and_paged
)
test_price_changed_in_the_admin_is_visible_everywhere_on_the_next_request = _transactional_db(
    catalog_views.test_price_changed_in_the_admin_is_visible_everywhere_on_the_next_request
)
test_admin_save_writes_the_product_entry_through = _transactional_db(
    catalog_views.test_admin_save_writes_the_product_entry_through
)
test_bulk_price_action_invalidates_without_signals = _transactional_db(
    catalog_views.test_bulk_price_action_invalidates_without_signals
)
test_moved_product_leaves_its_old_listing_and_joins_the_new_one = _transactional_db(
    catalog_views.test_moved_product_leaves_its_old_listing_and_joins_the_new_one
)
test_deactivated_product_disappears = _transactional_db(
    catalog_views.test_deactivated_product_disappears
)
test_stock_change_updates_the_badge_but_not_the_product_entry = _transactional_db(
    catalog_views.test_stock_change_updates_the_badge_but_not_the_product_entry
)
test_shared_pages_carry_no_visitor_data = _transactional_db(
    catalog_views.test_shared_pages_carry_no_visitor_data
)

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
