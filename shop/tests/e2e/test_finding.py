"""Finding things in a real browser: a category filtered by brand and price and sorted, at a
laptop's and a phone's width, and the header's department menu on a phone without JavaScript."""

import re
from decimal import Decimal

import pytest
from django.db.models import Count
from playwright.sync_api import expect

from catalog.models import Category, Product

from .browser import screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _busiest_leaf() -> Category:
    leaves = Category.objects.filter(parent__isnull=False).annotate(n=Count("products"))
    return leaves.order_by("-n", "id").first()


def _choice_with_products(page, legend: str):
    """The first radio of a filter group whose count is above zero, and its label."""
    labels = page.locator("fieldset", has=page.locator("legend", has_text=legend)).locator("label")
    for i in range(labels.count()):
        label = labels.nth(i)
        found = re.fullmatch(r"\s*(.*?)\s*\((\d+)\)\s*", label.inner_text(), re.S)
        if found and int(found.group(2)) > 0:
            return label, found.group(1)
    raise AssertionError(f"no {legend} choice with products")


def _open_filters(page) -> None:
    refine = page.locator("details.refine")
    if refine.get_attribute("open") is None:  # folded on narrow screens
        refine.locator("summary").click()


@pytest.mark.parametrize("width", [1280, 390])
def test_shopper_filters_a_category_by_brand_and_price_and_sorts_it(
    demo_catalog, new_page, width
):
    category = _busiest_leaf()
    page = new_page(width)
    page.goto(f"/c/{category.slug}/")
    _open_filters(page)

    brand_label, brand = _choice_with_products(page, "Brand")
    brand_label.click()  # applied on change: no button
    expect(page).to_have_url(re.compile(r"brand="))
    _open_filters(page)
    cards = page.locator(".grid .card")
    expect(cards.first).to_be_visible()
    assert set(page.locator(".grid .card-brand").all_inner_texts()) == {brand}

    price_label, _bucket = _choice_with_products(page, "Price")
    price_label.click()
    expect(page).to_have_url(re.compile(r"price="))
    page.get_by_label("Sort by").select_option("price")
    expect(page).to_have_url(re.compile(r"sort=price"))
    expect(page.get_by_label("Sort by")).to_have_value("price")
    _open_filters(page)
    expect(page.locator(f'input[name="brand"][value="{brand}"]')).to_be_checked()

    prices = [Decimal(p.strip("$")) for p in page.locator(".grid .price").all_inner_texts()]
    assert prices and prices == sorted(prices)
    expected = Product.objects.filter(
        category=category, is_active=True, brand=brand, price__in=prices
    ).count()
    assert expected >= len(prices)
    assert set(page.locator(".grid .card-brand").all_inner_texts()) == {brand}
    # The buttons are only for browsers without JavaScript.
    expect(page.get_by_role("button", name="Apply filters")).to_be_hidden()
    screenshot(page, "category-filtered")


def test_department_menu_and_filters_work_on_a_phone_without_javascript(demo_catalog, new_page):
    page = new_page(390, java_script_enabled=False)
    page.goto("/")
    menu = page.get_by_role("navigation", name="Department menu")
    department = Category.objects.filter(parent=None).order_by("position", "name").first()
    link = menu.get_by_role("link", name=department.name, exact=True)
    expect(link).to_be_hidden()
    menu.locator("summary").click()  # a <details>: opens without JavaScript
    expect(link).to_be_visible()
    screenshot(page, "menu-open")
    link.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(department.name)

    category = _busiest_leaf()
    page.goto(f"/c/{category.slug}/")
    label, brand = _choice_with_products(page, "Brand")
    label.click()
    page.get_by_label("Sort by").select_option("-price")
    page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(r"brand=.*sort=-price|sort=-price.*brand="))
    assert set(page.locator(".grid .card-brand").all_inner_texts()) == {brand}
    prices = [Decimal(p.strip("$")) for p in page.locator(".grid .price").all_inner_texts()]
    assert prices == sorted(prices, reverse=True)
