"""Search's cache tests on the 6-node Redis Cluster of test_cluster.py (the same session fixture).

Imported tests keep their own decorators but not their module's `pytestmark`: each gets the
transactional database its module gives it, so that on_commit invalidation runs.
"""

import pytest

from search.tests import test_selectors as search_selectors
from search.tests import test_views as search_views
from shelf.tests import clustering

pytestmark = pytest.mark.slow

redis_cluster_nodes = clustering.redis_cluster_nodes
on_cluster = clustering.on_cluster
catalog = search_views.catalog

_transactional_db = pytest.mark.django_db(transaction=True)
test_a_cached_results_page_runs_no_sql = _transactional_db(
    search_views.test_a_cached_results_page_runs_no_sql
)
test_a_price_change_shows_in_cached_results_on_the_next_request = _transactional_db(
    search_views.test_a_price_change_shows_in_cached_results_on_the_next_request
)
test_a_price_changed_in_the_admin_shows_in_search_at_once = _transactional_db(
    search_views.test_a_price_changed_in_the_admin_shows_in_search_at_once
)
test_a_new_product_appears_in_search_after_it_is_saved = _transactional_db(
    search_views.test_a_new_product_appears_in_search_after_it_is_saved
)
test_a_deactivated_or_renamed_product_leaves_search = _transactional_db(
    search_views.test_a_deactivated_or_renamed_product_leaves_search
)
test_a_price_change_expires_only_price_dependent_entries = _transactional_db(
    search_selectors.test_a_price_change_expires_only_price_dependent_entries
)
test_saving_a_product_expires_every_search_entry = _transactional_db(
    search_selectors.test_saving_a_product_expires_every_search_entry
)
