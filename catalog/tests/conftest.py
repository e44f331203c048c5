"""Fixtures of the catalog's tests."""

from decimal import Decimal

import pytest

from inventory.models import Stock

from .factories import CategoryFactory, ProductFactory, ProductImageFactory


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
    Stock.objects.filter(product=products[0]).update(quantity=3)
    return {"department": department, "laptops": laptops, "tablets": tablets, "products": products}
