"""Stock in PostgreSQL, its shelf entry and the badges: reservations are all or nothing and
decided by PostgreSQL; the entry follows every committed change."""

import time

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.test import Client
from django_redis import get_redis_connection

from catalog.tests.factories import CategoryFactory, ProductFactory
from inventory.cache import BACKSTOP_TTL, STOCK, _stock_ttl, stock_get_many
from inventory.models import Stock
from inventory.services import OutOfStock, stock_release, stock_reserve
from shelf.core import entry_envelope, tag_key, versions_digest

pytestmark = pytest.mark.django_db(transaction=True)


def quantity(product) -> int:
    return Stock.objects.get(product=product).quantity


def entry(product_id: int) -> dict | None:
    """The raw shelf entry of a product's stock, or None."""
    raw = get_redis_connection("default").get(STOCK.key(product_id))
    return entry_envelope(raw, STOCK.key(product_id))


def entry_is_current(product_id: int) -> bool:
    """The entry exists and its recorded tag versions are the current ones."""
    env = entry(product_id)
    if env is None:
        return False
    redis = get_redis_connection("default")
    current = [redis.get(tag_key(t)) for t in env["t"]]
    return None not in current and versions_digest([v.decode() for v in current]) == env["h"]


def test_reserve_takes_every_line_or_none_and_names_each_short_one():
    a, b, c = (ProductFactory(stock__quantity=q) for q in (5, 2, 0))
    with pytest.raises(OutOfStock) as refused, transaction.atomic():
        stock_reserve({a.pk: 3, b.pk: 3, c.pk: 1})
    assert refused.value.short == {b.pk: (3, 2), c.pk: (1, 0)}
    assert [quantity(p) for p in (a, b, c)] == [5, 2, 0], "a's line was rolled back too"
    with transaction.atomic():
        stock_reserve({a.pk: 5, b.pk: 2})
    assert [quantity(a), quantity(b)] == [0, 0]


def test_reserve_refuses_without_a_transaction_or_with_odd_quantities():
    product = ProductFactory(stock__quantity=5)
    with pytest.raises(transaction.TransactionManagementError):
        stock_reserve({product.pk: 1})
    with pytest.raises(ValueError), transaction.atomic():
        stock_reserve({product.pk: 0})
    with pytest.raises(ValueError), transaction.atomic():
        stock_reserve({product.pk: -2})
    assert quantity(product) == 5


def test_product_without_a_stock_row_is_out_of_stock():
    product = ProductFactory(stock=None)
    with pytest.raises(OutOfStock) as refused, transaction.atomic():
        stock_reserve({product.pk: 1})
    assert refused.value.short == {product.pk: (1, 0)}


def test_postgresql_refuses_negative_stock():
    product = ProductFactory(stock__quantity=1)
    with pytest.raises(IntegrityError, match="stock_never_negative"), transaction.atomic():
        Stock.objects.filter(product=product).update(quantity=-1)


def test_reserve_writes_the_new_level_through_to_the_shelf_after_the_commit():
    product = ProductFactory(stock__quantity=20)
    assert stock_get_many([product.pk]) == {product.pk: 20}
    with transaction.atomic():
        stock_reserve({product.pk: 4})
        # Before the commit a reader must still get the committed 20, from a valid entry.
        assert entry(product.pk)["d"] == 20 and entry_is_current(product.pk)
    assert entry(product.pk)["d"] == 16 and entry_is_current(product.pk)


def test_a_rolled_back_reservation_leaves_the_shelf_alone():
    product = ProductFactory(stock__quantity=20)
    stock_get_many([product.pk])
    before = entry(product.pk)
    with pytest.raises(RuntimeError), transaction.atomic():
        stock_reserve({product.pk: 4})
        raise RuntimeError("payment failed")
    assert entry(product.pk) == before and entry_is_current(product.pk)
    assert quantity(product) == 20


def test_ttl_tiers_are_backstops_now_that_every_change_is_written_through():
    # The seed's tiers were 300 s out of stock, 10 s low, 60 s in stock: the only refresh. With
    # every committed change written through, each tier is a backstop for a lost write only.
    out, low, plenty = BACKSTOP_TTL["out"], BACKSTOP_TTL["low"], BACKSTOP_TTL["in"]
    assert min(out, low, plenty) >= 600 and not STOCK.early_refresh
    assert (_stock_ttl(0), _stock_ttl(None), _stock_ttl(1), _stock_ttl(9)) == (out, out, low, low)
    assert (_stock_ttl(10), _stock_ttl(500)) == (plenty, plenty)
    products = {q: ProductFactory(stock__quantity=q) for q in (0, 4, 80)}
    stock_get_many([p.pk for p in products.values()])
    now = time.time()
    for q, expected in ((0, out), (4, low), (80, plenty)):
        lives = entry(products[q].pk)["x"] - now
        assert expected * 0.85 < lives <= expected * 1.1, (q, lives)


def test_badges_on_product_page_and_listing_come_from_the_stock_entry():
    category = CategoryFactory(leaf=True, slug="kettles")
    plenty, few, none = (ProductFactory(category=category, stock__quantity=q) for q in (40, 3, 0))
    client = Client()
    assert "In stock" in client.get(f"/p/{plenty.slug}/").content.decode()
    assert "Only 3 left" in client.get(f"/p/{few.slug}/").content.decode()
    assert "Out of stock" in client.get(f"/p/{none.slug}/").content.decode()
    listing = client.get("/c/kettles/").content.decode()
    # One "In stock" badge (the filter panel's "In stock only" is not a badge).
    assert listing.count("badge-in") == 1 and "Only 3 left" in listing
    assert "Out of stock" in listing


def test_stock_edited_in_the_product_admin_shows_on_the_next_request():
    product = ProductFactory(stock__quantity=40)
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-123")
    staff = Client()
    staff.force_login(admin)
    shopper = Client()
    url = f"/p/{product.slug}/"
    assert "In stock" in shopper.get(url).content.decode()
    form = {
        "sku": product.sku, "name": product.name, "slug": product.slug,
        "brand": product.brand, "model": product.model, "attributes": "{}",
        "description": product.description, "price": "99.99",
        "category": product.category_id, "rating": "4.2", "review_count": "12",
        "is_active": "on", "created_at_0": "2026-01-01", "created_at_1": "10:00:00",
        "stock-TOTAL_FORMS": "1", "stock-INITIAL_FORMS": "1", "stock-MIN_NUM_FORMS": "1",
        "stock-MAX_NUM_FORMS": "1", "stock-0-product": product.pk, "stock-0-quantity": "2",
        "images-TOTAL_FORMS": "0", "images-INITIAL_FORMS": "0",
        "images-MIN_NUM_FORMS": "0", "images-MAX_NUM_FORMS": "1000",
    }  # fmt: skip
    response = staff.post(f"/admin/catalog/product/{product.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert quantity(product) == 2
    assert "Only 2 left" in shopper.get(url).content.decode()


def test_low_stock_filter_in_the_product_admin():
    low = ProductFactory(name="Low Kettle", stock__quantity=3)
    ProductFactory(name="Full Kettle", stock__quantity=300)
    out = ProductFactory(name="Empty Kettle", stock__quantity=0)
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-123")
    staff = Client()
    staff.force_login(admin)
    body = staff.get("/admin/catalog/product/?stock=low").content.decode()
    assert low.name in body and "Full Kettle" not in body and out.name not in body
    body = staff.get("/admin/catalog/product/?stock=out").content.decode()
    assert out.name in body and low.name not in body


def test_release_gives_the_units_back_and_writes_the_level_through_after_the_commit():
    a, b = ProductFactory(stock__quantity=5), ProductFactory(stock__quantity=0)
    stock_get_many([a.pk, b.pk])
    with transaction.atomic():
        stock_reserve({a.pk: 2})
    with transaction.atomic():
        stock_release({a.pk: 2, b.pk: 1})
        assert entry(a.pk)["d"] == 3, "readers keep the committed level until the commit"
    assert [quantity(a), quantity(b)] == [5, 1]
    assert entry(a.pk)["d"] == 5 and entry_is_current(a.pk)
    assert entry(b.pk)["d"] == 1 and entry_is_current(b.pk)


def test_release_refuses_without_a_transaction_or_with_odd_quantities():
    product = ProductFactory(stock__quantity=5)
    with pytest.raises(transaction.TransactionManagementError):
        stock_release({product.pk: 1})
    with pytest.raises(ValueError), transaction.atomic():
        stock_release({product.pk: 0})
    assert quantity(product) == 5
