"""Shopper and admin journeys in a real browser (Chromium via Playwright) against the live shop."""

import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from playwright.sync_api import expect

from catalog.models import Category, Product
from inventory.models import Stock
from orders.models import Order
from orders.tests.factories import cart_with, order_for

from .browser import screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CARD = "4242 4242 4242 4242"


def badge(page):
    return page.locator("#cart-count")


def fill_shipping(page, email: str | None = None) -> None:
    if email is not None:
        page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Full name").fill("Ada Lovelace")
    page.get_by_label("Address", exact=True).fill("12 St James's Square")
    page.get_by_label("City").fill("London")
    page.get_by_label("Postcode").fill("SW1Y 4JH")
    page.get_by_label("Country").fill("United Kingdom")


def add_to_cart(page, quantity: int = 1) -> None:
    """Add the product page's product; the badge and message change in place (htmx)."""
    before = int(badge(page).inner_text() or 0)
    page.get_by_label("Quantity").fill(str(quantity))
    page.get_by_role("button", name="Add to cart").click()
    expect(page.locator("#messages")).to_contain_text("Added to your cart.")
    expect(badge(page)).to_have_text(str(before + quantity))


def test_anonymous_shopper_browses_searches_signs_up_and_orders(demo_catalog, new_page):
    page = new_page(1280)
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Everyday things, delivered.")

    # Home -> a department -> one of its categories -> a product.
    page.get_by_role("navigation", name="Departments").get_by_role("link", name="Audio").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Audio")
    page.get_by_role("navigation", name="Categories in Audio").get_by_role("link").first.click()
    category = page.get_by_role("heading", level=1).inner_text()
    expect(page.get_by_role("navigation", name="Breadcrumb")).to_contain_text(category)
    first = page.locator(".card a").first
    name = first.inner_text()
    first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    expect(page.get_by_role("navigation", name="Breadcrumb")).to_contain_text(category)

    # Search from the header, open two results and add them (one of them twice).
    page.get_by_role("searchbox", name="Search products").fill("headphones")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Results for “headphones”")
    expect(page.locator(".count")).to_contain_text("product")
    results = page.locator(".search-results .card a")
    chosen = [results.nth(0).inner_text(), results.nth(1).inner_text()]
    results.nth(0).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(chosen[0])
    add_to_cart(page, 1)
    page.go_back()
    page.locator(".search-results .card a").nth(1).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(chosen[1])
    add_to_cart(page, 2)

    # Sign up: the anonymous cart becomes the new account's.
    page.get_by_role("link", name="Create account").click()
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password", exact=True).fill("analytical-engine-1843")
    page.get_by_label("Password confirmation").fill("analytical-engine-1843")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    # The confirmation link, from the email (the live server shares this process's outbox).
    link = re.search(r"https?://[^/\s]+(/accounts/signup/confirm/\S+)", mail.outbox[-1].body)[1]
    page.goto(link)
    page.get_by_role("button", name="Confirm account").click()
    expect(page.get_by_role("navigation", name="Account")).to_contain_text("Hi, ada")
    expect(badge(page)).to_have_text("3")
    page.get_by_role("link", name=re.compile(r"^Cart")).click()
    lines = page.get_by_role("list", name="Products in your cart")
    for product in chosen:
        expect(lines).to_contain_text(product)
    expect(page.get_by_label(f"Quantity of {chosen[1]}")).to_have_value("2")
    expect(page.locator(".summary-box")).to_contain_text("Subtotal (3 items)")

    # Checkout: an empty name and a bad email are explained next to their fields.
    page.get_by_role("link", name="Check out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Checkout")
    page.get_by_label("Email", exact=True).fill("ada@")
    page.get_by_role("button", name="Continue to review").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Email: Enter a valid email address.")
    expect(summary).to_be_focused()
    email = page.get_by_label("Email", exact=True)
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#id_email_error")).to_have_text("Enter a valid email address.")
    expect(page.locator("#id_name_error")).to_have_text("This field is required.")
    fill_shipping(page, email="ada@example.com")
    page.get_by_role("button", name="Continue to review").click()

    # Review, pay, and the order page.
    expect(page.get_by_role("heading", level=1)).to_have_text("Review your order")
    for product in chosen:
        expect(page.locator("table")).to_contain_text(product)
    page.get_by_label("Card number").fill(CARD)
    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Order SH-"))
    number = page.get_by_role("heading", level=1).inner_text().removeprefix("Order ")
    expect(page.locator("#messages")).to_contain_text(f"Thank you! Your order {number}")
    expect(badge(page)).to_have_text("0")
    order = Order.objects.get(number=number)
    assert order.user.username == "ada" and order.lines.count() == 2

    page.get_by_role("link", name="All your orders").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your orders")
    expect(page.get_by_role("link", name=number)).to_be_visible()


def test_admin_price_change_is_seen_at_once_by_another_shopper(demo_catalog, new_page):
    get_user_model().objects.create_superuser("staff", "staff@example.com", "staff-pw-9876")
    category = Category.objects.filter(parent__isnull=False, products__isnull=False).first()
    product = (
        Product.objects.filter(category=category, is_active=True).order_by("-rating", "id").first()
    )
    new_price = product.price + Decimal("10.01")
    pages = {
        "product page": (f"/p/{product.slug}/", ".buy-box .price"),
        "search results": (f"/search/?q={product.name}", None),
        "category page": (f"/c/{category.slug}/", None),
    }

    def price_shown(page, card_price: str | None):
        if card_price:
            return page.locator(card_price)
        card = page.locator(".card").filter(
            has=page.get_by_role("link", name=product.name, exact=True)
        )
        return card.first.locator(".price")

    # A shopper looks first, so the old price sits on the shelf (Redis) on every page.
    shopper = new_page(1280)
    for url, selector in pages.values():
        shopper.goto(url)
        expect(price_shown(shopper, selector)).to_have_text(f"${product.price}")

    admin = new_page(1280)
    admin.goto("/admin/")
    admin.locator("#id_username").fill("staff")
    admin.locator("#id_password").fill("staff-pw-9876")
    admin.get_by_role("button", name="Log in").click()
    admin.goto(f"/admin/catalog/product/{product.pk}/change/")
    admin.locator("#id_price").fill(str(new_price))
    admin.get_by_role("button", name="Save", exact=True).click()
    expect(admin.locator(".messagelist")).to_contain_text("was changed successfully")

    # At once: the other shopper's very next request shows the new price on each page.
    for where, (url, selector) in pages.items():
        shopper.goto(url)
        shown = price_shown(shopper, selector)
        assert shown.inner_text() == f"${new_price}", where


def test_checkout_explains_stock_that_ran_out_while_in_the_cart(demo_catalog, new_page):
    product = Product.objects.filter(is_active=True).order_by("id").first()
    stock = Stock.objects.get(product=product)
    stock.quantity = 3
    stock.save()

    page = new_page(1280)
    page.goto(f"/p/{product.slug}/")
    expect(page.locator(".buy-box")).to_contain_text("Only 3 left")
    add_to_cart(page, 2)
    page.goto("/checkout/")
    fill_shipping(page, email="sam@example.com")
    page.get_by_role("button", name="Continue to review").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Review your order")
    page.get_by_label("Card number").fill(CARD)

    # Meanwhile another shopper buys two of the three.
    cart_with("s:someone-else", {product.pk: 2})
    order_for("s:someone-else")
    assert Stock.objects.get(product=product).quantity == 1

    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your cart")
    message = page.locator("#messages")
    expect(message).to_contain_text(
        f"Not enough stock: {product.name} is only 1 left (you asked for 2)."
        " Nothing was ordered or charged."
    )
    expect(page.locator(".cart-line")).to_contain_text("Only 1 left")
    screenshot(page, "stock-ran-out-cart")
    assert not Order.objects.filter(email="sam@example.com").exists()

    # The review says so too, and offers no way to order what cannot be had.
    page.goto("/checkout/review/")
    expect(page.get_by_role("alert").first).to_contain_text(
        "Some items cannot be ordered as they are."
    )
    expect(page.locator("table")).to_contain_text("Only 1 left")
    expect(page.get_by_role("button", name="Place order")).to_have_count(0)
    screenshot(page, "stock-ran-out-review")

    # One fewer, and the order goes through.
    page.get_by_role("link", name="Update your cart").first.click()
    page.get_by_role("button", name=f"One fewer {product.name}").click()
    expect(page.get_by_label(f"Quantity of {product.name}")).to_have_value("1")
    expect(page.locator(".cart-line")).not_to_contain_text("Only 1 left")
    page.get_by_role("link", name="Check out").click()
    page.get_by_role("button", name="Continue to review").click()
    page.get_by_label("Card number").fill(CARD)
    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Order SH-"))
    assert Stock.objects.get(product=product).quantity == 0


def test_cart_works_without_javascript(demo_catalog, new_page):
    product = Product.objects.filter(is_active=True).order_by("id")[1]
    page = new_page(390, java_script_enabled=False)
    page.goto(f"/p/{product.slug}/")
    page.get_by_role("button", name="Add to cart").click()
    expect(page.locator("#messages")).to_contain_text("Added to your cart.")
    expect(badge(page)).to_have_text("1")
    page.goto("/cart/")
    page.get_by_label(f"Quantity of {product.name}").fill("3")
    page.get_by_role("button", name="Update").click()
    expect(page.locator("#messages")).to_contain_text("Cart updated.")
    expect(page.locator(".summary-box")).to_contain_text("Subtotal (3 items)")
    page.get_by_role("button", name=f"One more {product.name}").click()
    expect(badge(page)).to_have_text("4")
    page.get_by_role("button", name=f"Remove {product.name}").click()
    expect(page.locator(".empty-state")).to_contain_text("Your cart is empty.")
