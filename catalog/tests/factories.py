"""factory-boy factories for the catalog: categories, products (with stock), images and
reviews."""

from datetime import datetime, timedelta
from decimal import Decimal

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from catalog.models import Category, Product, ProductImage, Review


def days_ago(days: float) -> datetime:
    """A ``created_at`` this many days back: products under a day old are "new" (shorter TTL)."""
    return timezone.now() - timedelta(days=days)


class CategoryFactory(DjangoModelFactory):
    """A department by default; pass ``parent=...`` (or ``leaf=True``) for a leaf category."""

    class Meta:
        model = Category

    class Params:
        leaf = factory.Trait(parent=factory.SubFactory("catalog.tests.factories.CategoryFactory"))

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")
    parent = None
    description = factory.LazyAttribute(lambda o: f"Everything in {o.name}.")
    position = factory.Sequence(lambda n: n)


class ProductFactory(DjangoModelFactory):
    """An active product in a leaf category, with a Stock row of 25 units.

    ``stock__quantity=0`` changes the stock; ``stock=None`` creates the product without one.
    """

    class Meta:
        model = Product
        skip_postgeneration_save = True

    sku = factory.Sequence(lambda n: f"TEST-{n:07d}")
    brand = "Nordvik"
    model = factory.Sequence(lambda n: f"X{n}")
    name = factory.LazyAttribute(lambda o: f"{o.brand} {o.model} Laptop")
    slug = factory.Sequence(lambda n: f"test-product-{n}")
    attributes = factory.LazyFunction(lambda: {"colour": "Black", "memory": "16 GB"})
    description = factory.LazyAttribute(lambda o: f"The {o.name} is a laptop for tests.")
    price = Decimal("99.99")
    category = factory.SubFactory(CategoryFactory, leaf=True)
    rating = Decimal("4.2")
    review_count = 12
    is_active = True
    created_at = factory.LazyFunction(timezone.now)
    stock = factory.RelatedFactory(
        "inventory.tests.factories.StockFactory", factory_related_name="product", quantity=25
    )


def _next_position(stub) -> int:
    """The first free position of the image's product (0 for an unsaved product)."""
    if stub.product.pk is None:
        return 0
    return stub.product.images.count()


class ProductImageFactory(DjangoModelFactory):
    class Meta:
        model = ProductImage

    product = factory.SubFactory(ProductFactory)
    position = factory.LazyAttribute(_next_position)
    # Small enough to need no renditions (catalog.images.WIDTHS): a test that wants them
    # passes a larger `image__width`.
    image = factory.django.ImageField(width=120, height=120, color="gray", format="PNG")
    alt = factory.LazyAttribute(lambda o: f"{o.product.name}, view {o.position + 1}")


def small_shop() -> dict:
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


class ReviewFactory(DjangoModelFactory):
    """An approved 4-star review by a new user; ``status=Review.Status.PENDING`` for one
    waiting for moderation. Created with ``Review.objects.create``, so the receivers update
    the product's rating as an admin's save would."""

    class Meta:
        model = Review

    product = factory.SubFactory(ProductFactory)
    user = factory.SubFactory("shop.tests.factories.UserFactory")
    author = factory.LazyAttribute(lambda o: o.user.username)
    rating = 4
    title = factory.Sequence(lambda n: f"Review number {n}")
    text = "Does what it says."
    status = Review.Status.APPROVED
    created_at = factory.LazyFunction(timezone.now)


def product_with_variants(
    variants: list[tuple[tuple[str, ...], int, str | None]],
    options: tuple[str, ...] = ("Size", "Colour"),
    **fields,
) -> tuple[Product, list[Product]]:
    """A product with `options` and one variant per (values, units on hand, own price or None),
    in that order, made as the admin makes them (catalog.services.variant_prepare). The
    product's own stock row holds 0 units: it is sold through its variants."""
    from catalog import services
    from inventory.tests.factories import StockFactory

    defaults = {"name": "Loomwell Crew T-Shirt", "brand": "Loomwell", "price": Decimal("20.00")}
    parent = ProductFactory(
        variant_options=list(options), stock__quantity=0, **(defaults | fields)
    )
    children = []
    for n, (values, units, price) in enumerate(variants):
        child = Product(
            parent=parent,
            sku=f"{parent.sku}-{n}",
            option_values=dict(zip(options, values, strict=True)),
            price=Decimal(price) if price else None,
        )
        services.variant_prepare(parent, child)
        child.save()
        StockFactory(product=child, quantity=units)
        children.append(child)
    return parent, children


# A T-shirt in sizes and colours: (size, colour), units, own price (None: the shirt's).
SHIRT = [
    (("S", "Red"), 5, None),
    (("M", "Red"), 0, None),
    (("M", "Blue"), 3, "25.00"),
    (("XL", "Red"), 40, None),
]


def shirt_with_variants(**fields):
    """A product with SHIRT's four variants: (the product, [its variants in SHIRT's order])."""
    return product_with_variants(SHIRT, **fields)
