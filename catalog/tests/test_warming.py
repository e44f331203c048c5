"""warm_cache's plan run by the toolkit: popularity order, the memory budget, resuming, and
several processes (a private Redis of the test's, whose maxmemory it sets)."""

import pytest
import redis
from django.core.management import call_command
from django.test import override_settings

from catalog import cache, services
from catalog.models import Product
from shelf import stats, warming
from shelf.core import l1_empty
from shelf.tests.servers import redis_server

from .factories import ProductFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def private_cache():
    """The cache role on a Redis of this test's own (its maxmemory is the test's to set)."""
    from django.conf import settings

    with redis_server() as server:
        caches = {alias: dict(conf) for alias, conf in settings.CACHES.items()}
        caches["default"] = {**caches["default"], "LOCATION": server.url}
        with override_settings(CACHES=caches):
            yield redis.Redis(port=server.port)
        l1_empty()


@pytest.fixture
def products():
    return [ProductFactory(rating=f"{3.5 + i / 10:.1f}") for i in range(12)]


def _pages(r, products) -> list[bool]:
    return [bool(r.exists(cache.PAGE.key(p.slug))) for p in products]


def test_warming_stops_at_the_budget_and_a_second_run_goes_on_where_it_stopped(
    private_cache, products
):
    r = private_cache
    maxmemory = int(r.info("memory")["used_memory"]) + 2**24
    r.config_set("maxmemory", maxmemory)
    with override_settings(SHELF_WARM_BUDGET=0.01):  # already over budget: nothing may load
        done = warming.shelf_warm(warming.warm_plan())
    assert done["stopped_at_budget"] and done["handled"] == 0 and done["loaded"] == 0
    assert done["budget"] == int(maxmemory * 0.01)
    assert warming.budget_bytes() == int(maxmemory * 0.8)  # the default share
    assert not any(_pages(r, products))

    r.config_set("maxmemory", 0)  # no limit: the whole plan
    done = warming.shelf_warm(warming.warm_plan())
    assert not done["stopped_at_budget"] and done["handled"] == done["entries"]
    assert all(_pages(r, products))

    # Resuming: only what is missing is loaded again (one page and its card-free loads).
    r.delete(cache.PAGE.key(products[3].slug))
    l1_empty()
    stats.maybe_flush(force=True)
    before = warming._loads()
    warming.shelf_warm(warming.warm_plan())
    assert all(_pages(r, products))
    assert warming._loads() - before == 1  # that page, and nothing else from PostgreSQL


def test_the_plan_is_in_popularity_order(private_cache, products):
    """The hourly ranking's products first, then the rest, top rated first."""
    for _ in range(3):
        cache.record_view(products[2].pk)
    stats.maybe_flush(force=True)
    services.popular_rank()
    plan = warming.warm_plan()
    pages = [e.key for e in plan if e.label == "catalog.page"]
    # The rest in "Top rated" order: the Bayesian score PostgreSQL keeps (models.Product).
    rest = [p for p in Product.objects.order_by("-rating_score", "id") if p.pk != products[2].pk]
    assert pages == [cache.PAGE.key(p.slug) for p in [products[2], *rest]]
    assert [e.label for e in plan][:2] == ["catalog.home", "catalog.listing"]


def test_warm_cache_in_two_processes_fills_the_shelf(private_cache, products, capsys):
    call_command("warm_cache", "--jobs", "2")
    assert all(_pages(private_cache, products))
    out = capsys.readouterr().out
    assert "Warmed" in out and "no maxmemory" in out


def test_the_beat_task_warms_every_product_hourly():
    from django.conf import settings

    beat = settings.CELERY_BEAT_SCHEDULE["shelf-warm"]
    assert beat["task"] == "shelf.tasks.shelf_warm" and beat["kwargs"]["products"] is None
    assert beat["kwargs"]["seconds"] < settings.CELERY_TASK_SOFT_TIME_LIMIT
