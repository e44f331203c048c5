"""No dead ends and no sideways scrolling, in a real browser: refused quantities say why beside
their line (with and without JavaScript), a sold-out line stops "Check out", sold-out products
cannot be added, and every storefront page fits a 320 px phone, signed in or out."""

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from catalog.models import Category, Product
from inventory.models import Stock
from orders.tests.factories import DETAILS

from .browser import screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CARD = "4242 4242 4242 4242"
OVERFLOW = """() => {
  const root = document.documentElement;
  const wide = [...document.body.querySelectorAll('*')]
    .filter(el => el.getBoundingClientRect().right > root.clientWidth + 0.5)
    .filter(el => !el.closest('.departments ul, .gallery-main, .table-box, .table-scroll'))
    .slice(0, 8).map(el => `${el.tagName.toLowerCase()}.${el.getAttribute('class') || ''}`
      + ` ${Math.round(el.getBoundingClientRect().right)}px`
      + ` "${el.textContent.trim().slice(0, 24)}"`);
  return {scroll: root.scrollWidth, client: root.clientWidth, wide};
}"""


def assert_fits(page, name: str) -> None:
    """The page scrolls only up and down: nothing is wider than the window (scrollers that
    are meant to scroll sideways, like the departments strip, scroll inside themselves)."""
    found = page.evaluate(OVERFLOW)
    assert found["scroll"] <= found["client"], f"{name} is wider than the window: {found}"


def stocked(demo_catalog, count: int = 2) -> list[Product]:
    shown = Product.objects.filter(is_active=True, stock__quantity__gt=5).order_by("id")
    return list(shown[:count])


def set_stock(product: Product, quantity: int) -> None:
    stock = Stock.objects.get(product=product)
    stock.quantity = quantity
    stock.save()  # as the admin does: the shelf has the new level after the commit


def line(page, product: Product):
    return page.locator(".cart-line", has=page.get_by_label(f"Quantity of {product.name}"))


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_a_rejected_quantity_says_why_beside_its_line(demo_catalog, new_page, javascript):
    product, other = stocked(demo_catalog)
    set_stock(product, 7)
    page = new_page(390, java_script_enabled=javascript)
    page.goto(f"/p/{product.slug}/")
    for quantity in ("0", "100"):  # the product page says so too, instead of doing nothing
        page.get_by_label("Quantity").fill(quantity)
        page.get_by_role("button", name="Add to cart").click()
        expect(page.locator("#messages")).to_contain_text("Enter a quantity from 1 to 99.")
    for item in (product, other):
        page.goto(f"/p/{item.slug}/")
        page.get_by_role("button", name="Add to cart").click()
        expect(page.locator("#messages")).to_contain_text("Added to your cart.")
    page.goto("/cart/")
    box = page.get_by_label(f"Quantity of {product.name}")

    def send(quantity: str) -> None:
        box.fill(quantity)
        if javascript:
            box.press("Tab")  # htmx sends on change
        else:
            line(page, product).get_by_role("button", name="Update").click()

    send("2")
    expect(page.locator("#messages")).to_contain_text("Cart updated.")
    subtotal = line(page, product).locator(".line-total").inner_text()
    for quantity in ("0", "-1", "100"):
        send(quantity)
        error = line(page, product).locator(".line-error")
        expect(error).to_have_text("Enter a quantity from 1 to 99. Your cart still has 2.")
        # The earlier "Cart updated." is gone: only what answers this change is shown.
        expect(page.locator("#messages")).not_to_contain_text("Cart updated.")
        expect(line(page, other).locator(".line-error")).to_have_count(0)
        expect(page.get_by_label(f"Quantity of {product.name}")).to_have_attribute(
            "aria-invalid", "true"
        )
        expect(line(page, product).locator(".line-total")).to_have_text(subtotal)
    screenshot(page, f"cart-refused-{'js' if javascript else 'nojs'}")
    send("9")  # more than the 7 on hand
    expect(line(page, product).locator(".line-error")).to_contain_text(
        "Only 7 left: enter 7 or fewer."
    )
    send("7")
    expect(line(page, product).locator(".line-error")).to_have_count(0)
    expect(page.get_by_role("button", name=f"One more {product.name}")).to_be_disabled()
    expect(page.get_by_role("button", name=f"One fewer {product.name}")).to_be_enabled()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_a_sold_out_line_disables_check_out_until_it_is_fixed(
    demo_catalog, new_page, javascript
):
    product, other = stocked(demo_catalog)
    page = new_page(1280, java_script_enabled=javascript)
    for item in (product, other):
        page.goto(f"/p/{item.slug}/")
        page.get_by_role("button", name="Add to cart").click()
        expect(page.locator("#messages")).to_contain_text("Added to your cart.")
    set_stock(product, 0)

    page.goto(f"/p/{product.slug}/")
    expect(page.get_by_role("button", name="Out of stock")).to_be_disabled()
    expect(page.get_by_role("button", name="Add to cart")).to_have_count(0)

    page.goto("/cart/")
    expect(line(page, product)).to_contain_text("Out of stock")
    expect(page.get_by_role("button", name="Check out")).to_be_disabled()
    expect(page.get_by_role("link", name="Check out")).to_have_count(0)
    page.goto("/checkout/")  # typed in by hand: back to the cart, before any form
    expect(page.get_by_role("heading", level=1)).to_have_text("Your cart")
    expect(page.locator("#messages")).to_contain_text("sold out or short of stock")

    page.get_by_role("button", name=f"Remove {product.name}").click()
    expect(page.get_by_role("link", name="Check out")).to_be_visible()
    expect(page.locator(".summary-box")).to_contain_text("Shipping")
    page.get_by_role("link", name="Check out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Checkout")


def _sign_in(page, name: str) -> None:
    get_user_model().objects.create_user(name, f"{name}@example.com", "compiler-a-0-1952")
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password", exact=True).fill("compiler-a-0-1952")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def assert_cart_in_reach(page) -> None:
    """The header's cart link is within the window's width (not pushed off to the right)."""
    right = page.locator(".cart-link").evaluate("el => el.getBoundingClientRect().right")
    assert right <= page.evaluate("() => document.documentElement.clientWidth")


@pytest.mark.parametrize("signed_in", [False, True], ids=["signed-out", "signed-in"])
def test_every_storefront_page_fits_a_320_px_screen(demo_catalog, new_page, signed_in):
    category = Category.objects.filter(parent__isnull=False).order_by("id").first()
    product, other = stocked(demo_catalog)
    page = new_page(320)
    if signed_in:
        _sign_in(page, "maximilianus")  # a long name, as people have
    pages = {
        "home": "/",
        "department": f"/c/{category.parent.slug}/",
        "category": f"/c/{category.slug}/",
        "product": f"/p/{product.slug}/",
        "search": "/search/?q=laptop",
        "no results": "/search/?q=zzzzqqqq",
        "empty cart": "/cart/",
        "info": "/shipping/",
        "404": "/no-such-page/",
        **({} if signed_in else {"login": "/accounts/login/", "signup": "/accounts/signup/"}),
    }
    for name, url in pages.items():
        page.goto(url)
        assert_fits(page, name)
    for item in (product, other):
        page.goto(f"/p/{item.slug}/")
        page.get_by_role("button", name="Add to cart").click()
        expect(page.locator("#messages")).to_contain_text("Added to your cart.")
    assert_cart_in_reach(page)
    page.goto("/cart/")
    assert_fits(page, "cart")
    page.get_by_label(f"Quantity of {product.name}").fill("0")
    page.get_by_label(f"Quantity of {product.name}").press("Tab")
    expect(page.locator(".line-error")).to_be_visible()
    assert_fits(page, "cart with a refusal")
    page.goto("/checkout/")
    assert_fits(page, "checkout")
    if not signed_in:
        page.get_by_label("Email", exact=True).fill(DETAILS["email"])
    page.get_by_label("Full name").fill(DETAILS["name"])
    page.get_by_label("Address", exact=True).fill(DETAILS["address_line1"])
    page.get_by_label("City").fill(DETAILS["city"])
    page.get_by_label("Postcode").fill(DETAILS["postcode"])
    page.get_by_label("Country").fill(DETAILS["country"])
    page.get_by_role("button", name="Continue to review").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Review your order")
    assert_fits(page, "review")
    page.get_by_label("Card number").fill(CARD)
    page.get_by_role("button", name="Place order").click()
    expect(page.locator(".order-grid")).to_contain_text("Visa ending 4242")
    assert_fits(page, "order")
    if signed_in:
        page.goto("/orders/")
        assert_fits(page, "orders")
        page.goto("/accounts/password/")
        assert_fits(page, "password change")
    # The header keeps the cart in reach whoever is signed in.
    assert_cart_in_reach(page)
    screenshot(page, f"order-320-{'in' if signed_in else 'out'}")


def test_the_staff_dashboard_is_readable_at_390_px(demo_catalog, new_page):
    get_user_model().objects.create_superuser("staff", "staff@example.com", "staff-pw-9876")
    page = new_page(390)
    page.goto("/admin/")
    page.locator("#id_username").fill("staff")
    page.locator("#id_password").fill("staff-pw-9876")
    page.get_by_role("button", name="Log in").click()
    assert_fits(page, "admin index")
    page.goto("/p/" + stocked(demo_catalog, 1)[0].slug + "/")  # a view to rank
    page.goto("/admin/cache/")
    expect(page.get_by_role("heading", name="Redis roles")).to_be_visible()
    assert_fits(page, "cache dashboard")
    # Wide tables scroll inside their box, which fits the screen.
    for box in page.locator(".table-scroll").all():
        assert box.evaluate("el => el.getBoundingClientRect().right") <= 390
    screenshot(page, "dashboard")
