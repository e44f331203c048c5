"""Every page, at a laptop's and a phone's width: no serious or critical axe-core violations.

The walk also saves each page's screenshot (browser.SCREENSHOTS; README, "Screenshots").
"""

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Count
from django.template.loader import render_to_string
from playwright.sync_api import expect

from catalog.models import Category, Product

from .browser import axe_violations, describe, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [1280, 390, 320])
def test_every_page_passes_axe_without_serious_violations(demo_catalog, new_page, width):
    leaf = Category.objects.filter(parent__isnull=False).annotate(n=Count("products"))
    category = leaf.order_by("-n", "id").first()
    shown = (
        Product.objects.filter(is_active=True, stock__quantity__gt=5)
        .annotate(pictures=Count("images"))
        .order_by("-pictures", "id")
    )
    product, other = shown[0], shown[1]
    page = new_page(width)
    found: dict[str, list] = {}

    def check(name: str, photograph: bool = True) -> None:
        found[name] = axe_violations(page)
        if photograph:
            screenshot(page, name)

    page.goto("/")
    check("home")
    page.goto(f"/c/{category.slug}/")
    check("category")
    page.goto(f"/p/{product.slug}/")
    check("product")
    page.goto("/search/?q=laptop")
    check("search")

    page.goto("/cart/")
    expect(page.locator(".empty-state")).to_contain_text("Your cart is empty.")
    check("cart-empty", photograph=False)
    for item, quantity in ((product, 1), (other, 2)):
        page.goto(f"/p/{item.slug}/")
        page.get_by_label("Quantity").fill(str(quantity))
        page.get_by_role("button", name="Add to cart").click()
        expect(page.locator("#messages")).to_contain_text("Added to your cart.")
    page.goto("/cart/")
    expect(page.locator(".summary-box")).to_contain_text("Subtotal (3 items)")
    check("cart")

    page.goto("/accounts/login/")
    check("login")
    page.goto("/accounts/signup/")
    check("signup")
    page.get_by_label("Username").fill(f"grace{width}")
    page.get_by_label("Email").fill(f"grace{width}@example.com")
    page.get_by_label("Password", exact=True).fill("compiler-a-0-1952")
    page.get_by_label("Password confirmation").fill("compiler-a-0-1952")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#cart-count")).to_have_text("3")

    page.goto("/checkout/")
    check("checkout")
    page.get_by_label("Email", exact=True).fill("not-an-email")
    page.get_by_role("button", name="Continue to review").click()
    expect(page.get_by_role("alert")).to_be_visible()
    check("checkout-errors")
    page.get_by_label("Email", exact=True).fill(f"grace{width}@example.com")
    page.get_by_label("Full name").fill("Grace Hopper")
    page.get_by_label("Address", exact=True).fill("1 Harbour Road")
    page.get_by_label("City").fill("Arlington")
    page.get_by_label("Postcode").fill("22201")
    page.get_by_label("Country").fill("United States")
    page.get_by_role("button", name="Continue to review").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Review your order")
    check("review")
    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.get_by_role("button", name="Place order").click()
    expect(page.locator("#messages")).to_contain_text("Thank you!")
    check("order")
    page.goto("/orders/")
    check("orders")
    page.goto("/accounts/password/")
    check("password-change", photograph=False)
    # The account pages, signed in (the sign-up above waits for its email) by email address.
    get_user_model().objects.create_user(f"ada{width}", f"ada{width}@example.com", "engine-1843-x")
    page.goto("/accounts/login/")
    page.get_by_label("Username or email").fill(f"ada{width}@example.com")
    page.get_by_label("Password").fill("engine-1843-x")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#messages")).to_contain_text(f"Welcome back, ada{width}.")
    check("signed-in-message", photograph=False)
    page.goto("/accounts/password/")
    check("password-change-signed-in", photograph=False)
    page.get_by_role("navigation", name="Footer").get_by_role("link", name="Your account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your account")
    check("account")
    page.goto("/accounts/profile/")
    check("profile", photograph=False)
    page.goto("/accounts/email/")
    check("email-change", photograph=False)
    page.goto("/accounts/addresses/")
    check("addresses-empty", photograph=False)
    page.get_by_role("link", name="Add an address").click()
    page.get_by_role("button", name="Save address").click()
    expect(page.get_by_role("alert")).to_be_visible()
    check("address-errors", photograph=False)
    page.get_by_label("Full name").fill("Grace Hopper")
    page.get_by_label("Address", exact=True).fill("1 Harbour Road")
    page.get_by_label("City").fill("Arlington")
    page.get_by_label("Postcode").fill("22201")
    page.get_by_label("Country").fill("United States")
    page.get_by_role("button", name="Save address").click()
    expect(page.locator("#messages")).to_contain_text("Address added.")
    check("addresses")
    page.goto("/accounts/password/reset/")
    check("password-reset", photograph=False)
    page.goto("/accounts/password/reset/sent/")
    check("password-reset-sent", photograph=False)
    page.goto("/accounts/password/reset/MA/not-a-token/")
    check("password-reset-bad-link", photograph=False)

    page.goto("/no-such-page/")
    check("404")
    # The 500 and 503 pages render with no request and no database (Django's handler500, the
    # fault middleware): load them as they would be sent.
    for name in ("500", "503"):
        page.set_content(render_to_string(f"{name}.html", {"SITE_NAME": "Shelf"}))
        check(name)

    failing = {name: v for name, v in found.items() if v}
    assert not failing, "\n".join(f"{name}:\n{describe(v)}" for name, v in failing.items())
