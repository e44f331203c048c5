"""The information pages the footer links to, as first text for the admin to edit."""

from django.db import migrations

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


def create_pages(apps, schema_editor) -> None:
    site_model = apps.get_model("sites", "Site")
    page_model = apps.get_model("flatpages", "FlatPage")
    # SITE_ID = 1; django.contrib.sites would create it only after all migrations ran.
    site, _ = site_model.objects.get_or_create(
        pk=1, defaults={"domain": "localhost", "name": "Shelf"}
    )
    for url, (title, content) in PAGES.items():
        page, created = page_model.objects.get_or_create(
            url=url, defaults={"title": title, "content": content}
        )
        if created:
            page.sites.add(site)


class Migration(migrations.Migration):
    dependencies = [
        ("sites", "0002_alter_domain_unique"),
        ("flatpages", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_pages, migrations.RunPython.noop)]
