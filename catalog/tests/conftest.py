"""Fixtures of the catalog's tests."""

from decimal import Decimal

import pytest

from inventory.models import Stock

# The one import of the caching toolkit in the catalog's selector and service tests.
from shelf import stats

from .factories import CategoryFactory, ProductFactory, ProductImageFactory, small_shop


@pytest.fixture
def catalog():
    department = CategoryFactory(name="Computers", slug="computers", parent=None)
    laptops = CategoryFactory(name="Laptops", slug="laptops", parent=department)
    tablets = CategoryFactory(name="Tablets", slug="tablets", parent=department)
    products = [
        ProductFactory(
            name=f"Nordvik X{i} Laptop", slug=f"nordvik-x{i}", category=laptops,
            price=Decimal(500 + i), rating=Decimal("4.0") + Decimal(i) / 100,
        )
        for i in range(30)
    ]  # fmt: skip
    for p in products[:3]:
        ProductImageFactory(product=p)
    stock = Stock.objects.get(product=products[0])
    stock.quantity = 3
    stock.save()  # as the admin does: written through to the shelf after the commit
    return {"department": department, "laptops": laptops, "tablets": tablets, "products": products}


@pytest.fixture
def shop():
    """A small catalog whose sorts all differ (see factories.small_shop)."""
    return small_shop()


@pytest.fixture
def flush_views():
    """Write the product views counted so far to Redis (they are buffered in the process),
    as the counters' periodic flush would."""
    return lambda: stats.maybe_flush(force=True)
