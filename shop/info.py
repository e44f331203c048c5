"""The first text of the shop's information pages (shipping, returns, privacy, contact, about).

The admin edits them afterwards (django.contrib.flatpages); `info_pages_ensure` creates the ones
that are missing and never overwrites an edited page.
"""

from typing import Any

PAGES = {
    "/shipping/": (
        "Shipping",
        "<p>We send every order by tracked courier. Orders placed on a working day before"
        " 2 pm leave our warehouse the same day; later orders leave the next working day.</p>"
        "<p>Delivery takes 1 to 3 working days. Shipping is a flat fee per order, shown in"
        " your cart and at checkout before you pay.</p>",
    ),
    "/returns/": (
        "Returns",
        "<p>Changed your mind? Send anything back unused within 30 days of delivery for a"
        " full refund of its price. Faulty items can be returned within two years; we pay"
        " the postage and refund or replace them, as you prefer.</p>"
        "<p>To start a return, write to us with your order number (it starts with SH-).</p>",
    ),
    "/privacy/": (
        "Privacy",
        "<p>We use your name, address and email only to deliver your orders and to tell you"
        " about them. We never sell them. Payment card numbers go to our payment provider and"
        " are never stored by us.</p>"
        "<p>We keep order records as tax law requires. Write to us to see, correct or delete"
        " the data of your account.</p>",
    ),
    "/contact/": (
        "Contact us",
        "<p>Email <a href=\"mailto:help@shelf.example\">help@shelf.example</a> and we will"
        " answer within one working day. Please include your order number if your question"
        " is about an order.</p>",
    ),
    "/about/": (
        "About us",
        "<p>Everyday things, delivered: electronics, home and kitchen, fashion, sports, toys"
        " and books, chosen for being good value and built to last.</p>",
    ),
}


def info_pages_ensure(site_model: Any, page_model: Any) -> int:
    """Create the missing pages on site 1 (SITE_ID); return how many were created.

    Takes the models as arguments so that the migration can pass its historical ones.
    """
    # django.contrib.sites creates its default site only after all migrations ran.
    site, _ = site_model.objects.get_or_create(
        pk=1, defaults={"domain": "localhost", "name": "Shelf"}
    )
    created = 0
    for url, (title, content) in PAGES.items():
        page, new = page_model.objects.get_or_create(
            url=url, defaults={"title": title, "content": content}
        )
        if new:
            page.sites.add(site)
            created += 1
    return created
