"""Variants: a product's sizes and colours, each with its own SKU, stock and optional price,
chosen on the product's one shared page without JavaScript, served warm with no SQL, sold
per variant and found by search."""

import json
import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import Client

from catalog import selectors
from catalog.models import Product
from catalog.tests.factories import (
    CategoryFactory,
    ProductFactory,
    product_with_variants,
    shirt_with_variants,
)
from catalog.variants import option_values_parse, variant_choose
from inventory.models import Stock
from inventory.selectors import stock_get_many
from inventory.services import stock_reserve

pytestmark = pytest.mark.django_db

def _checked(body: str) -> list[str]:
    """The values of the checked radio buttons of the variant form."""
    return re.findall(r'<input type="radio" name="\w+" value="([^"]+)" checked>', body)


def _chosen_id(body: str) -> int:
    return int(re.search(r'name="product" value="(\d+)"', body).group(1))


def _jsonld(body: str) -> dict:
    raw = re.search(r'<script type="application/ld\+json">(.*?)</script>', body, re.S).group(1)
    return json.loads(raw)


def test_the_page_offers_the_variants_and_shows_the_first_in_stock():
    parent, (small, _medium_red, _medium_blue, _xl) = shirt_with_variants()
    body = Client().get(f"/p/{parent.slug}/").content.decode()
    assert '<form method="get" action="/p/' in body
    for value in ("S", "M", "XL", "Red", "Blue"):
        assert f'value="{value}"' in body
    assert _checked(body) == ["S", "Red"]
    assert _chosen_id(body) == small.pk
    assert '$<span data-part="price">20.00</span>' in body
    assert "Only 5 left" in body.split("<template")[0]
    assert f'<dd data-part="sku">{small.sku}</dd>' in body


def test_the_get_form_reloads_the_page_with_the_chosen_variant():
    parent, (_s, medium_red, medium_blue, _xl) = shirt_with_variants()
    client = Client()
    body = client.get(f"/p/{parent.slug}/", {"size": "M", "colour": "Blue"}).content.decode()
    shown = body.split("<template")[0]
    assert _checked(body) == ["M", "Blue"] and _chosen_id(body) == medium_blue.pk
    assert '$<span data-part="price">25.00</span>' in shown and "Only 3 left" in shown
    offer = _jsonld(body)["offers"]
    assert offer["price"] == "25.00" and offer["sku"] == medium_blue.sku
    assert offer["availability"] == "https://schema.org/InStock"

    body = client.get(f"/p/{parent.slug}/", {"variant": medium_red.sku}).content.decode()
    shown = body.split("<template")[0]
    assert _chosen_id(body) == medium_red.pk and "Out of stock" in shown
    assert '<button type="submit" class="button-big" disabled>Out of stock</button>' in shown
    assert _jsonld(body)["offers"]["availability"] == "https://schema.org/OutOfStock"


def test_a_variant_with_its_own_picture_shows_it_first():
    from catalog.tests.factories import ProductImageFactory

    parent, (_s, _mr, medium_blue, _xl) = shirt_with_variants()
    ProductImageFactory(product=parent, alt="The shirt, folded")
    ProductImageFactory(product=medium_blue, alt="The blue shirt")
    client = Client()
    red = client.get(f"/p/{parent.slug}/").content.decode().split("<template")[0]
    blue = client.get(f"/p/{parent.slug}/?variant={medium_blue.sku}").content.decode()
    blue = blue.split("<template")[0]
    assert 'alt="The shirt, folded"' in red and "The blue shirt" not in red
    assert blue.index("The blue shirt, picture 1 of 2") < blue.index("The shirt, folded")


def test_unknown_choices_show_the_default_variant_and_store_nothing_new():
    parent, (small, *_rest) = shirt_with_variants()
    client = Client()
    client.get(f"/p/{parent.slug}/")
    for query in ("?variant=NOPE", "?size=XXXL", "?colour=%3Cscript%3E", "?size=S&size=M&x=1"):
        response = client.get(f"/p/{parent.slug}/{query}")
        assert response.status_code == 200
        body = response.content.decode()
        assert "<script>" not in body.split("</header>")[1].split("application/ld+json")[0]
        assert _chosen_id(body) in {
            small.pk,
            *(v.pk for v in Product.objects.filter(parent=parent)),
        }


def test_a_combination_that_is_not_made_chooses_the_closest():
    parent, (_s, _mr, medium_blue, extra_large) = shirt_with_variants()
    body = Client().get(f"/p/{parent.slug}/", {"size": "XL", "colour": "Blue"}).content.decode()
    # XL comes in red only: the first variant matching most of the choice.
    assert _chosen_id(body) in {extra_large.pk, medium_blue.pk}
    assert len(_checked(body)) == 2


def test_a_warm_page_is_served_with_no_sql_for_every_choice(django_assert_num_queries):
    parent, (_s, medium_red, _mb, _xl) = shirt_with_variants()
    client = Client()
    url = f"/p/{parent.slug}/"
    assert client.get(url).status_code == 200
    with django_assert_num_queries(0):
        for query in ({}, {"variant": medium_red.sku}, {"size": "M", "colour": "Blue"},
                      {"size": "nope"}):  # fmt: skip
            response = client.get(url, query)
            assert response.status_code == 200
    assert _chosen_id(response.content.decode()) != 0


def test_the_page_is_one_entry_whatever_the_choice():
    from django_redis import get_redis_connection

    from catalog import cache

    parent, (_s, medium_red, _mb, _xl) = shirt_with_variants()
    client = Client()
    client.get(f"/p/{parent.slug}/")
    client.get(f"/p/{parent.slug}/?variant={medium_red.sku}")
    client.get(f"/p/{parent.slug}/?size=M&colour=Blue")
    redis = get_redis_connection("default")
    pages = [k for k in redis.scan_iter(match=f"{cache.PAGE.key('')}*", count=1000)]
    assert len(pages) == 1


def test_a_variants_own_address_redirects_to_its_parents_page():
    parent, (_s, medium_red, _mb, _xl) = shirt_with_variants()
    response = Client().get(f"/p/{medium_red.slug}/")
    assert response.status_code == 301
    assert response["Location"] == f"/p/{parent.slug}/?variant={medium_red.sku}"


def test_variant_stock_shows_at_once_and_the_card_shows_their_sum(
    django_capture_on_commit_callbacks,
):
    parent, (small, _mr, medium_blue, _xl) = shirt_with_variants()
    assert stock_get_many([parent.pk]) == {parent.pk: 48}
    client = Client()
    url = f"/p/{parent.slug}/?variant={medium_blue.sku}"
    assert "Only 3 left" in client.get(url).content.decode().split("<template")[0]
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        stock_reserve({medium_blue.pk: 2})
    assert "Only 1 left" in client.get(url).content.decode().split("<template")[0]
    assert stock_get_many([parent.pk]) == {parent.pk: 46}
    assert Stock.objects.get(product=small).quantity == 5


def test_listings_show_the_product_once_and_count_it_in_stock_through_its_variants():
    category = CategoryFactory(leaf=True, slug="t-shirts", name="T-Shirts")
    shirt_with_variants(category=category)
    product_with_variants(
        [(("S", "Red"), 0, None)], category=category, name="Loomwell Sold Out Tee",
        slug="sold-out-tee",
    )  # fmt: skip
    ProductFactory(category=category, name="Plain Tee", stock__quantity=0)
    client = Client()
    body = client.get("/c/t-shirts/").content.decode()
    names = re.findall(r'<span class="card-name">([^<]+)</span>', body)
    assert sorted(names) == ["Loomwell Crew T-Shirt", "Loomwell Sold Out Tee", "Plain Tee"]
    assert '<p class="count">3 products</p>' in body
    # The shirt's badge is its variants' sum (48 units); the sold-out tee's variants have none.
    assert body.count("badge-in") == 1 and body.count("badge-out") == 2
    stocked = client.get("/c/t-shirts/?in_stock=1").content.decode()
    names = re.findall(r'<span class="card-name">([^<]+)</span>', stocked)
    assert names == ["Loomwell Crew T-Shirt"]


def _admin_form(parent: Product, variants: list[dict], **changes) -> dict:
    stock = Stock.objects.get(product=parent)
    form = {
        "sku": parent.sku, "name": parent.name, "slug": parent.slug,
        "brand": parent.brand, "model": parent.model, "attributes": "{}",
        "description": parent.description, "price": str(parent.price),
        "category": parent.category_id, "rating": "4.2", "review_count": "12",
        "is_active": "on", "created_at_0": "2026-01-01", "created_at_1": "10:00:00",
        "variant_options": " / ".join(parent.variant_options),
        "stock-TOTAL_FORMS": "1", "stock-INITIAL_FORMS": "1", "stock-MIN_NUM_FORMS": "1",
        "stock-MAX_NUM_FORMS": "1", "stock-0-product": parent.pk,
        "stock-0-quantity": str(stock.quantity),
        "images-TOTAL_FORMS": "0", "images-INITIAL_FORMS": "0",
        "images-MIN_NUM_FORMS": "0", "images-MAX_NUM_FORMS": "1000",
        "variants-TOTAL_FORMS": str(len(variants)),
        "variants-INITIAL_FORMS": str(sum(1 for v in variants if v.get("id"))),
        "variants-MIN_NUM_FORMS": "0", "variants-MAX_NUM_FORMS": "1000",
    }  # fmt: skip
    for n, variant in enumerate(variants):
        for key, value in variant.items():
            form[f"variants-{n}-{key}"] = value
        form[f"variants-{n}-parent"] = parent.pk
    return form | changes


def _existing(child: Product, **changes) -> dict:
    return {
        "id": child.pk,
        "sku": child.sku,
        "price": str(child.price or ""),
        "is_active": "on",
        "option_values": " / ".join(child.option_values.values()),
        "stock": str(Stock.objects.get(product=child).quantity),
    } | changes


def _staff() -> Client:
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-123")
    staff = Client()
    staff.force_login(admin)
    return staff


def test_variants_edited_inline_in_the_admin_show_on_the_next_request(
    django_capture_on_commit_callbacks,
):
    parent, children = shirt_with_variants()
    small, medium_red, medium_blue, extra_large = children
    staff, shopper = _staff(), Client()
    url = f"/p/{parent.slug}/"
    assert "Only 5 left" in shopper.get(url).content.decode().split("<template")[0]
    variants = [
        _existing(small, price="19.00", stock="2"),
        _existing(medium_red, option_values="M / Green"),
        _existing(medium_blue),
        _existing(extra_large),
        {"sku": "TEE-XXL", "option_values": "XXL / Red", "price": "", "stock": "7",
         "is_active": "on"},
    ]  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(
            f"/admin/catalog/product/{parent.pk}/change/", _admin_form(parent, variants)
        )
    assert response.status_code == 302, response.content.decode()[:3000]
    shown = shopper.get(url).content.decode()
    before = shown.split("<template")[0]
    assert '$<span data-part="price">19.00</span>' in before and "Only 2 left" in before
    assert 'value="Green"' in shown and 'value="XXL"' in shown
    new = Product.objects.get(sku="TEE-XXL")
    assert new.parent == parent and new.name == "Loomwell Crew T-Shirt (XXL / Red)"
    assert Stock.objects.get(product=new).quantity == 7
    body = shopper.get(url, {"variant": "TEE-XXL"}).content.decode().split("<template")[0]
    assert _chosen_id(body) == new.pk and "Only 7 left" in body
    assert '$<span data-part="price">20.00</span>' in body  # the parent's price


def test_the_admin_refuses_values_that_do_not_fit_the_options():
    parent, children = shirt_with_variants()
    staff = _staff()
    for bad in ("XL", "XL / Red / Cotton", " / Red", "S / Red"):  # S / Red is taken
        variants = [_existing(c) for c in children] + [
            {"sku": "TEE-NEW", "option_values": bad, "stock": "1", "is_active": "on"}
        ]
        response = staff.post(
            f"/admin/catalog/product/{parent.pk}/change/", _admin_form(parent, variants)
        )
        assert response.status_code == 200, bad
        assert "errorlist" in response.content.decode(), bad
    assert not Product.objects.filter(sku="TEE-NEW").exists()


def test_option_values_parse_and_choose():
    assert option_values_parse(["Size", "Colour"], " XL /Red ") == {"Size": "XL", "Colour": "Red"}
    for bad in ("", "XL", "XL / ", "a / b / c"):
        with pytest.raises(ValueError):
            option_values_parse(["Size", "Colour"], bad)
    variants = [
        {"id": 1, "sku": "A", "values": {"size": "S", "colour": "Red"}},
        {"id": 2, "sku": "B", "values": {"size": "M", "colour": "Red"}},
        {"id": 3, "sku": "C", "values": {"size": "M", "colour": "Blue"}},
    ]
    stock = {1: 0, 2: 4, 3: 1}
    assert variant_choose(variants, {}, stock)["id"] == 2  # the first with units
    assert variant_choose(variants, {"variant": "C"}, stock)["id"] == 3
    assert variant_choose(variants, {"size": "M", "colour": "Blue"}, stock)["id"] == 3
    assert variant_choose(variants, {"colour": "Blue", "size": "S"}, stock)["id"] == 1
    assert variant_choose(variants, {"variant": "Z", "size": "?"}, stock)["id"] == 2


def test_a_price_change_by_percent_changes_the_variants_own_prices_too(
    django_capture_on_commit_callbacks,
):
    from catalog import services

    parent, (small, _mr, medium_blue, _xl) = shirt_with_variants()
    client = Client()
    url = f"/p/{parent.slug}/?variant={medium_blue.sku}"
    assert '$<span data-part="price">25.00</span>' in client.get(url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.product_price_change_percent([parent.pk], Decimal("-10")) == 1
    assert '$<span data-part="price">22.50</span>' in client.get(url).content.decode()
    assert selectors.product_get(small.pk)["price"] == "18.00"  # it follows its parent's
    assert selectors.product_get(medium_blue.pk)["price"] == "22.50"
