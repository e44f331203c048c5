"""The catalog's TTL tiers and popularity ranking, read back from Redis."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django_redis import get_redis_connection

from catalog import cache, selectors, services
from inventory.cache import STOCK
from shelf import stats
from shelf.core import ENTRY_FORMAT, entry_envelope

from .factories import ProductFactory

pytestmark = pytest.mark.django_db


def _logical_ttl(product_id: int) -> float:
    raw = get_redis_connection("default").get(cache.PRODUCT.key(product_id))
    return entry_envelope(raw)["x"] - time.time()


@pytest.mark.also_on("cluster")
def test_ttl_tiers_new_regular_and_popular():
    new = ProductFactory(created_at=timezone.now() - timedelta(hours=2))
    regular = ProductFactory(created_at=timezone.now() - timedelta(days=90))
    popular = ProductFactory(created_at=timezone.now() - timedelta(days=90))
    for _ in range(5):
        cache.record_view(popular.pk)
    stats.maybe_flush(force=True)
    assert services.popular_rank() == 1
    selectors.product_cards([new.pk, regular.pk, popular.pk])
    assert 0.85 * 300 < _logical_ttl(new.pk) <= 1.1 * 300
    assert 0.85 * 1800 < _logical_ttl(regular.pk) <= 1.1 * 1800
    assert 0.85 * 3600 < _logical_ttl(popular.pk) <= 1.1 * 3600


@pytest.mark.also_on("cluster")
def test_product_entry_holds_only_card_fields_and_is_small():
    product = ProductFactory(description="x" * 5000)
    selectors.product_get(product.pk)
    raw = get_redis_connection("default").get(cache.PRODUCT.key(product.pk))
    data = entry_envelope(raw)["d"]
    assert set(data) == {
        "id", "name", "slug", "brand", "price", "rating", "reviews", "category", "image",
        "srcset", "tier",
    }  # fmt: skip
    assert len(raw) < 600


@pytest.mark.django_db(transaction=True)
def test_a_cached_product_takes_under_3000_bytes_of_redis(client):
    """Page (compressed with the shipped dictionary), card entry, stock and their tags, by
    Redis's own MEMORY USAGE; uncompressed, the page alone is over 12,000."""
    product = ProductFactory(description="A quiet kettle for a small kitchen. " * 8)
    assert client.get(f"/p/{product.slug}/").status_code == 200
    selectors.product_get(product.pk)
    r = get_redis_connection("default")
    keys = [
        cache.PAGE.key(product.slug),
        cache.PRODUCT.key(product.pk),
        STOCK.key(product.pk),
        f"shelf:tag:product:{product.pk}",
        f"shelf:tag:stock:{product.pk}",
    ]
    sizes = [r.memory_usage(k, samples=0) for k in keys]
    assert None not in sizes, dict(zip(keys, sizes, strict=True))
    assert entry_envelope(r.get(keys[0]))["d"]["html"].count(product.name) >= 1
    assert b'"z":' in r.get(keys[0]).partition(b"\n")[0]
    assert sum(sizes) <= 3000, dict(zip(keys, sizes, strict=True))



def test_the_shipped_page_dictionaries_are_in_use():
    for ns in (cache.PAGE, cache.LISTING, cache.HOME):
        assert ns.dictionary is not None and ns.dictionary.id, ns.name
        assert f"v{ns.schema}f{ENTRY_FORMAT}z{ns.dictionary.id}:" in ns.key("x")
