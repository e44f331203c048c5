"""A small catalog for search tests: two departments, three leaves, products worded on purpose."""

from decimal import Decimal

from catalog.models import Category, Product
from catalog.tests.factories import CategoryFactory, ProductFactory


def product(name: str, category: Category, **fields) -> Product:
    fields.setdefault("description", f"The {name}.")
    fields.setdefault("brand", name.split()[0])
    return ProductFactory(name=name, category=category, **fields)


def search_catalog() -> dict:
    """Laptops, headphones and chargers; ids and prices chosen so orders are easy to assert."""
    computers = CategoryFactory(name="Computers", slug="computers")
    audio = CategoryFactory(name="Audio", slug="audio")
    laptops = CategoryFactory(name="Laptops", slug="laptops", parent=computers)
    headphones = CategoryFactory(name="Headphones", slug="headphones", parent=audio)
    chargers = CategoryFactory(name="Chargers", slug="chargers", parent=computers)
    items = {
        "x15": product("Nordvik X15 Laptop", laptops, price=Decimal("999.00"),
                       rating=Decimal("4.1")),
        "aero": product("Altura Aero 14 Laptop", laptops, price=Decimal("1299.00"),
                        rating=Decimal("4.8")),
        "budget": product("Quillon Lite Laptop", laptops, price=Decimal("449.00"),
                          rating=Decimal("3.9"), stock__quantity=0),
        "studio": product("Sonora Studio Headphones", headphones, price=Decimal("199.00"),
                          description="Closed-back headphones; fold flat into a laptop bag."),
        "wave": product("Basswell Wave Headphones", headphones, price=Decimal("89.00")),
        "usbc": product("Kairo USB C Charger", chargers, price=Decimal("25.00"),
                        description="A 65 W USB-C charger for phones and laptops."),
        "cable": product("Kairo USB C Cable", chargers, price=Decimal("9.00"),
                         description="A braided USB-C charging cable."),
    }  # fmt: skip
    return {
        "computers": computers, "audio": audio, "laptops": laptops,
        "headphones": headphones, "chargers": chargers, **items,
    }  # fmt: skip
