"""Account journeys in a real browser: a forgotten password, from the email to signing in (a
locked-out shopper included), and the address book filling checkout."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from playwright.sync_api import expect

from catalog.models import Product
from orders.models import Address

from .browser import axe_violations, describe

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "old-pass-for-ada-1815"
NEW_PASSWORD = "new-pass-for-ada-1852"


@pytest.fixture
def ada(db):
    return get_user_model().objects.create_user(
        "ada", "ada@example.com", PASSWORD, first_name="Ada"
    )


def sign_in(page, who: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username or email").fill(who)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_a_locked_out_shopper_resets_the_password_from_the_email_and_signs_in(ada, new_page):
    page = new_page(390)
    for _ in range(5):
        sign_in(page, "Ada@Example.com", "not-my-password")
    expect(page.get_by_role("heading", level=1)).to_have_text("Too many failed sign-ins")

    page.get_by_role("link", name="reset your password").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Reset your password")
    found = {"reset": axe_violations(page)}
    page.get_by_label("Email").fill("ADA@example.com")
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    found["reset-sent"] = axe_violations(page)

    # The link from the email (the live server shares this process's outbox).
    (message,) = mail.outbox
    assert message.to == ["ada@example.com"]
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/\S+/\S+/)", message.body)[1]
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose a new password")
    page.get_by_label("New password", exact=True).fill("short")
    page.get_by_label("New password again").fill("short")
    page.get_by_role("button", name="Save new password").click()
    expect(page.get_by_role("alert")).to_contain_text("This password is too short.")
    found["reset-new-password-errors"] = axe_violations(page)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save new password").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Password changed")
    found["reset-complete"] = axe_violations(page)

    page.get_by_role("link", name="Sign in", exact=True).last.click()
    page.get_by_label("Username or email").fill("ada@example.com")
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#messages")).to_contain_text("Welcome back, Ada.")
    expect(page.get_by_role("navigation", name="Account")).to_contain_text("Hi, Ada")

    page.goto(link)  # the link worked once
    expect(page.get_by_role("heading", level=1)).to_have_text("This link does not work any more")
    failing = {name: v for name, v in found.items() if v}
    assert not failing, "\n".join(f"{name}:\n{describe(v)}" for name, v in failing.items())


def test_the_address_book_fills_checkout(ada, demo_catalog, new_page):
    product = Product.objects.filter(is_active=True, stock__quantity__gt=5).order_by("id").first()
    page = new_page(1280)
    sign_in(page, "ada", PASSWORD)
    page.get_by_role("link", name="Hi, Ada").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your account")
    page.get_by_role("link", name="Manage your addresses").click()
    page.get_by_role("link", name="Add an address").click()
    page.get_by_label("Full name").fill("Ada Lovelace")
    page.get_by_label("Address", exact=True).fill("12 St James's Square")
    page.get_by_label("City").fill("London")
    page.get_by_label("Postcode").fill("SW1Y 4JH")
    page.get_by_label("Country").fill("United Kingdom")
    page.get_by_role("button", name="Save address").click()
    expect(page.locator("#messages")).to_contain_text("Address added.")
    page.get_by_role("link", name="Add an address").click()
    page.get_by_label("Full name").fill("Ada King")
    page.get_by_label("Address", exact=True).fill("Ockham Park")
    page.get_by_label("City").fill("Ockham")
    page.get_by_label("Postcode").fill("GU23 6NP")
    page.get_by_label("Country").fill("United Kingdom")
    page.get_by_role("button", name="Save address").click()
    # The second one becomes the default; the first is the default until then.
    expect(page.locator(".address").first).to_contain_text("12 St James's Square")
    page.get_by_role("button", name="Make default Ada King, Ockham Park").click()
    expect(page.locator("#messages")).to_contain_text("Default address changed.")
    expect(page.locator(".address").first).to_contain_text("Ockham Park")
    expect(page.locator(".address").first).to_contain_text("Default")

    page.goto(f"/p/{product.slug}/")
    page.get_by_role("button", name="Add to cart").click()
    expect(page.locator("#messages")).to_contain_text("Added to your cart.")
    page.goto("/checkout/")
    expect(page.get_by_label("Email", exact=True)).to_have_value("ada@example.com")
    expect(page.get_by_label("Full name")).to_have_value("Ada King")
    expect(page.get_by_label("Address", exact=True)).to_have_value("Ockham Park")
    expect(page.get_by_label("Postcode")).to_have_value("GU23 6NP")

    # A new address typed at checkout, kept for next time.
    page.get_by_label("Address", exact=True).fill("1 Horsley Towers")
    page.get_by_label("Save this address in my address book").check()
    page.get_by_role("button", name="Continue to review").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Review your order")
    assert Address.objects.filter(user=ada, address_line1="1 Horsley Towers").exists()
    page.goto("/accounts/addresses/")
    expect(page.locator(".address")).to_have_count(3)

    page.get_by_role("button", name="Delete Ada Lovelace, 12 St James's Square").click()
    expect(page.locator("#messages")).to_contain_text("Address deleted.")
    expect(page.locator(".address")).to_have_count(2)
