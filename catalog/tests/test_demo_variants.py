"""The demo catalog's variants (catalog.demo_variants): sizes and colours of some clothing and
shoes, storage and colours of some phones and tablets, memory of some laptops."""

import io
import re
from collections import Counter

import pytest
from django.core.management import call_command
from django.test import Client

from catalog.demo_pictures import Picture
from catalog.demo_variants import COLOUR_HEX, KINDS
from catalog.models import Product, ProductImage
from inventory.models import Stock
from inventory.selectors import stock_get_many

pytestmark = pytest.mark.django_db


def _seed(**options) -> str:
    out = io.StringIO()
    call_command("seed_catalog", products=250, seed=7, stdout=out, **options)
    return out.getvalue()


def _variants() -> list[tuple]:
    return list(
        Product.objects.filter(parent__isnull=False)
        .order_by("pk")
        .values_list("pk", "sku", "parent_id", "option_values", "price", "stock__quantity")
    )


def test_the_demo_catalog_gives_clothing_shoes_and_electronics_realistic_variants():
    output = _seed()
    variants = Product.objects.filter(parent__isnull=False).select_related("parent", "stock")
    parents = Product.objects.filter(variants__isnull=False).distinct()
    count = variants.count()
    assert f"({count:,} variants of them besides)" in output and count > 100
    assert Product.objects.filter(parent__isnull=True).count() == 250
    assert set(parents.values_list("category__slug", flat=True)) <= set(KINDS)
    assert len(set(parents.values_list("category__slug", flat=True))) >= 5
    kinds = Counter()
    for variant in variants:
        parent = variant.parent
        assert set(variant.option_values) == set(parent.variant_options)
        assert variant.sku.startswith(f"{parent.sku}-")
        assert variant.category_id == parent.category_id
        assert variant.name.startswith(f"{parent.name} (") and variant.stock.quantity >= 0
        # The options left the product's own details (its variants say them now).
        assert not {o.lower() for o in parent.variant_options} & set(parent.attributes)
        kinds[tuple(parent.variant_options)] += 1
        if "Storage" in parent.variant_options:
            assert re.fullmatch(r"\d+ (GB|TB)( SSD)?", variant.option_values["Storage"])
    assert set(kinds) >= {("Size", "Colour"), ("Storage", "Colour"), ("Memory", "Colour")}
    # A bigger storage costs more than the smallest, which costs the product's price.
    phone = parents.filter(variant_options=["Storage", "Colour"]).first()
    prices = {v.option_values["Storage"]: v.price for v in phone.variants.all()}
    assert sorted(p is None for p in prices.values()).count(True) == 1
    assert all(p is None or p > phone.price for p in prices.values())
    # Another colour than the product's has its own picture, in that colour.
    pictured = ProductImage.objects.filter(product__parent__isnull=False).select_related("product")
    assert pictured.exists()
    for image in pictured[:20]:
        colour = image.product.option_values["Colour"]
        assert image.image.name.endswith(Picture("x", COLOUR_HEX[colour]).name.split("/")[-1])
    # The product's units on hand are its variants' sum, and its page offers them.
    shirt = parents.filter(variant_options=["Size", "Colour"]).first()
    total = sum(Stock.objects.filter(product__parent=shirt).values_list("quantity", flat=True))
    assert stock_get_many([shirt.pk]) == {shirt.pk: total}
    body = Client().get(f"/p/{shirt.slug}/").content.decode()
    assert 'class="variant-choice"' in body and "<legend>Size</legend>" in body

    # The same seed gives the same variants (`--no-variants`, none: test_seed's catalogs).
    first = _variants()
    _seed(replace=True)
    assert _variants() == first
