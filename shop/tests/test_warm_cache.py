import pytest
from django.core.management import call_command

from catalog.tests.factories import CategoryFactory, ProductFactory
from shelf import stats

pytestmark = pytest.mark.django_db(transaction=True)


def test_warm_cache_is_idempotent_and_leaves_pages_as_hits(client, django_assert_num_queries):
    laptops = CategoryFactory(parent=CategoryFactory(slug="computers"), slug="laptops")
    products = [ProductFactory(category=laptops) for _ in range(5)]
    call_command("warm_cache", products=5)
    before = stats.read_totals()
    call_command("warm_cache", products=5)
    stats.maybe_flush(force=True)
    after = stats.read_totals()
    loads = {k: after[k] - before.get(k, 0) for k in after if k.endswith(":load")}
    assert not any(loads.values()), loads
    with django_assert_num_queries(0):
        for url in ["/", "/c/computers/", "/c/laptops/", f"/p/{products[0].slug}/"]:
            assert client.get(url).status_code == 200
