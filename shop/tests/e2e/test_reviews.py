"""A buyer's review in a real browser: written, moderated in the admin, then seen by shoppers;
and the recently viewed products that follow a shopper through signing in."""

import json

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from catalog.models import Product
from orders.tests.factories import paid_order
from shop.tests.factories import PASSWORD, UserFactory

from .browser import axe_violations, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _product_jsonld(page) -> dict:
    return json.loads(page.locator('script[type="application/ld+json"]').text_content())


def test_a_buyer_reviews_a_product_and_shoppers_see_it_once_approved(demo_catalog, new_page):
    product, other = Product.objects.filter(is_active=True).order_by("id")[:2]
    buyer = UserFactory(username="ada", first_name="Ada")
    paid_order(buyer, product)
    get_user_model().objects.create_superuser("staff", "staff@example.com", "staff-pw-9876")
    before = product.review_count

    # A shopper, not signed in yet, looks at two products: the second page lists the first.
    page = new_page(1280)
    page.goto(f"/p/{other.slug}/")
    page.goto(f"/p/{product.slug}/")
    recent = page.get_by_role("region", name="Recently viewed")
    expect(recent.get_by_role("link", name=other.name)).to_be_visible()
    expect(page.locator("#reviews-heading")).to_have_text(f"Customer reviews ({before})")

    # Writing a review asks them to sign in first, then comes back to the form.
    page.get_by_role("link", name="Write a review").click()
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Review {product.name}")

    # No rating chosen: the form says so, beside the field and in the summary.
    page.get_by_label("Title").fill("Sturdy <b>and</b> light")
    page.get_by_label("Your review").fill("I carry it every day. <script>alert(1)</script>")
    assert axe_violations(page) == [], "the review form"
    page.get_by_role("button", name="Submit review").click()
    expect(page.locator("#error-summary")).to_contain_text("This field is required.")
    assert axe_violations(page) == [], "the review form with errors"
    page.get_by_label("4 stars").check()
    page.get_by_role("button", name="Submit review").click()
    expect(page.locator("#messages")).to_contain_text("once we have checked it")
    expect(page.get_by_role("heading", level=1)).to_have_text(product.name)
    expect(page.locator("#reviews")).not_to_contain_text("Sturdy")
    # Signed in now: the list kept what they saw before (merged at sign-in).
    expect(recent.get_by_role("link", name=other.name)).to_be_visible()

    # Staff approve it in the admin.
    admin = new_page(1280)
    admin.goto("/admin/")
    admin.locator("#id_username").fill("staff")
    admin.locator("#id_password").fill("staff-pw-9876")
    admin.get_by_role("button", name="Log in").click()
    admin.goto("/admin/catalog/review/?status__exact=pending")
    admin.get_by_role("row").filter(has_text="Sturdy").get_by_role("checkbox").check()
    admin.locator("select[name=action]").select_option("approve")
    admin.get_by_role("button", name="Go").click()
    expect(admin.locator(".messagelist")).to_contain_text("Approved 1 review.")

    # Another shopper's next request shows it first, escaped, with the new count and rating.
    shopper = new_page(1280)
    shopper.goto(f"/p/{product.slug}/")
    first = shopper.locator(".review").first
    expect(first.locator(".review-title")).to_have_text("Sturdy <b>and</b> light")
    expect(first.locator(".review-text")).to_contain_text("<script>alert(1)</script>")
    expect(first).to_contain_text("Ada")
    expect(shopper.locator("#reviews-heading")).to_have_text(f"Customer reviews ({before + 1})")
    product.refresh_from_db()
    assert product.review_count == before + 1
    rating = _product_jsonld(shopper)["aggregateRating"]
    assert (rating["ratingValue"], rating["reviewCount"]) == (f"{product.rating:.1f}", before + 1)
    expect(shopper.locator(".buy .rating")).to_contain_text(f"{product.rating:.1f}")
    # The other shopper has a history of their own, not Ada's.
    expect(shopper.get_by_role("region", name="Recently viewed")).to_have_count(0)
    assert axe_violations(shopper) == [], "a product page with reviews"
    shopper.locator("#reviews").evaluate("section => section.scrollIntoView()")
    screenshot(shopper, "product-reviews")
    shopper.goto(f"/p/{product.slug}/reviews/")
    expect(shopper.locator(".review").first).to_contain_text("Sturdy <b>and</b> light")
    assert axe_violations(shopper) == [], "the review pages"
