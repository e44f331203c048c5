"""Fixtures of the catalog's tests."""

from decimal import Decimal

import pytest

from inventory.models import Stock

# The one import of the caching toolkit in the catalog's selector and service tests.
from shelf import stats

from .factories import CategoryFactory, ProductFactory, ProductImageFactory, days_ago


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


@pytest.fixture
def shop():
    """Two departments, three leaves and five products whose prices, ratings and ages give a
    different order for every sort.

    Computers: Laptops (Aero, X1, Lite) and Tablets (Slate); Audio: Headphones (Studio).
    By rating: Aero 4.8, Studio 4.6, X1 4.5, Slate 4.1, Lite 3.9.
    By price: Studio 199, Slate 329, Lite 449, X1 899, Aero 1299.
    By age, newest first: Lite, Slate, X1, Aero, Studio. Lite is out of stock.
    """

    # Descriptions name neither the product nor the category: a rename must show everywhere.
    def category(name, parent=None):
        slug = name.lower()
        return CategoryFactory(name=name, slug=slug, parent=parent, description=f"All {slug}.")

    computers = category("Computers")
    laptops = category("Laptops", computers)
    tablets = category("Tablets", computers)
    audio = category("Audio")
    headphones = category("Headphones", audio)

    def product(name, slug, category, price, rating, age_days, stock=25):
        return ProductFactory(
            name=name,
            slug=slug,
            brand=name.split()[0],
            category=category,
            price=Decimal(price),
            rating=Decimal(rating),
            created_at=days_ago(age_days),
            description=f"About {slug}.",
            stock__quantity=stock,
        )

    return {
        "computers": computers,
        "laptops": laptops,
        "tablets": tablets,
        "audio": audio,
        "headphones": headphones,
        "aero": product("Altura Aero Laptop", "altura-aero", laptops, "1299.00", "4.8", 30),
        "x1": product("Nordvik X1 Laptop", "nordvik-x1", laptops, "899.00", "4.5", 10),
        "lite": product("Quillon Lite Laptop", "quillon-lite", laptops, "449.00", "3.9", 2, 0),
        "slate": product("Nordvik Slate Tablet", "nordvik-slate", tablets, "329.00", "4.1", 5),
        "studio": product(
            "Sonora Studio Headphones", "sonora-studio", headphones, "199.00", "4.6", 60
        ),
    }


@pytest.fixture
def flush_views():
    """Write the product views counted so far to Redis (they are buffered in the process),
    as the counters' periodic flush would."""
    return lambda: stats.maybe_flush(force=True)
