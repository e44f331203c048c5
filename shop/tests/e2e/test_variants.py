"""Choosing a variant in a real browser, without JavaScript (the form reloads the page with the
choice) and with it (an instant switch from what the page holds), and buying it."""

import re

import pytest
from playwright.sync_api import expect

from catalog.tests.factories import product_with_variants
from inventory.models import Stock
from orders.models import Order

from .browser import axe_violations, screenshot
from .test_journeys import CARD, badge, fill_shipping

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHIRT = [
    (("S", "Red"), 5, None),
    (("M", "Red"), 0, None),
    (("M", "Blue"), 3, "25.00"),
    (("XL", "Red"), 40, None),
]


def _box(page):
    return page.locator("[data-variant-box]")


def test_a_shopper_chooses_a_variant_without_and_with_javascript_and_buys_it(new_page):
    parent, (_small, _medium_red, medium_blue, extra_large) = product_with_variants(SHIRT)
    url = f"/p/{parent.slug}/"

    # Without JavaScript: the form's button reloads the page with the choice.
    page = new_page(390, java_script_enabled=False)
    page.goto(url)
    expect(page.get_by_label("S", exact=True)).to_be_checked()
    expect(_box(page).locator('[data-part="price"]')).to_have_text("20.00")
    page.get_by_label("M", exact=True).check()
    page.get_by_label("Blue", exact=True).check()
    page.get_by_role("button", name="Show this choice").click()
    expect(page).to_have_url(re.compile(r"\?size=M&colour=Blue$"))
    expect(_box(page).locator('[data-part="price"]')).to_have_text("25.00")
    expect(_box(page)).to_contain_text("Only 3 left")
    expect(page.locator('dd[data-part="sku"]')).to_have_text(medium_blue.sku)
    page.get_by_label("Quantity").fill("2")
    page.get_by_role("button", name="Add to cart").click()
    expect(page.locator("#messages")).to_contain_text("Added to your cart.")
    expect(page).to_have_url(re.compile(rf"\?variant={medium_blue.sku}$"))
    expect(page.get_by_label("Blue", exact=True)).to_be_checked()
    page.goto("/cart/")
    expect(page.get_by_label("Quantity of Loomwell Crew T-Shirt (M / Blue)")).to_have_value("2")

    # With JavaScript: the choice switches at once, without loading another page.
    page = new_page(1280)
    page.goto(url)
    expect(page.get_by_role("button", name="Show this choice")).to_be_hidden()
    page.evaluate("window.stillThisPage = true")
    page.get_by_label("XL", exact=True).check()
    expect(_box(page)).to_contain_text("In stock")
    expect(page).to_have_url(re.compile(rf"\?variant={extra_large.sku}$"))
    page.get_by_label("M", exact=True).check()
    # M comes in red (sold out) and blue: the colour stays red, the closest to the choice.
    expect(page.get_by_role("button", name="Out of stock")).to_be_disabled()
    page.get_by_label("Blue", exact=True).check()
    expect(_box(page).locator('[data-part="label"]')).to_have_text("M / Blue")
    expect(_box(page).locator('[data-part="price"]')).to_have_text("25.00")
    expect(_box(page)).to_contain_text("Only 3 left")
    expect(page.get_by_label("Quantity")).to_have_attribute("max", "3")
    expect(page.locator('dd[data-part="sku"]')).to_have_text(medium_blue.sku)
    assert page.evaluate("window.stillThisPage") is True
    assert axe_violations(page) == [], "a product page with variants"
    screenshot(page, "product-variants")
    page.get_by_role("button", name="Add to cart").click()
    expect(page.locator("#messages")).to_contain_text("Added to your cart.")
    expect(badge(page)).to_have_text("1")

    # And buys it: the order holds the variant, whose units alone go down.
    page.get_by_role("link", name=re.compile(r"^Cart")).click()
    expect(page.get_by_role("list", name="Products in your cart")).to_contain_text(
        "Loomwell Crew T-Shirt (M / Blue)"
    )
    page.get_by_role("link", name="Check out").click()
    fill_shipping(page, email="ada@example.com")
    page.get_by_role("button", name="Continue to review").click()
    expect(page.locator("table")).to_contain_text(medium_blue.sku)
    page.get_by_label("Card number").fill(CARD)
    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Order SH-"))
    number = page.get_by_role("heading", level=1).inner_text().removeprefix("Order ")
    line = Order.objects.get(number=number).lines.get()
    assert (line.product_id, line.unit_price, line.quantity) == (medium_blue.pk, 25, 1)
    assert Stock.objects.get(product=medium_blue).quantity == 2
    assert Stock.objects.get(product=extra_large).quantity == 40
