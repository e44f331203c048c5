"""The footer's information pages: there, linked from every page, and edited in the admin."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.flatpages.models import FlatPage
from django.contrib.sites.models import Site
from django.test import Client

from shop.info import info_pages_ensure

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def info_pages():
    """The pages the migration creates (a transactional test elsewhere may have flushed them)."""
    info_pages_ensure(Site, FlatPage)

PAGES = {
    "/shipping/": "Shipping",
    "/returns/": "Returns",
    "/privacy/": "Privacy",
    "/contact/": "Contact us",
    "/about/": "About us",
}


def test_every_information_page_is_linked_from_the_footer_and_answers(client):
    home = client.get("/").content.decode()
    footer = home[home.index("<footer") :]
    for url, title in PAGES.items():
        assert f'href="{url}"' in footer, url
        page = client.get(url)
        assert page.status_code == 200, url
        assert f"<h1>{title}</h1>" in page.content.decode()


def test_storefront_wording_says_nothing_about_the_machinery(client):
    footer = client.get("/").content.decode().split("<footer", 1)[1]
    for word in ("Redis", "PostgreSQL", "demo", "Sitemap"):
        assert word not in footer


def test_an_admin_edit_shows_on_the_next_request(client):
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-123")
    staff = Client()
    staff.force_login(admin)
    page = FlatPage.objects.get(url="/returns/")
    response = staff.post(
        f"/admin/flatpages/flatpage/{page.pk}/change/",
        {"url": "/returns/", "title": "Returns", "content": "<p>60 days to return.</p>",
         "sites": [1], "template_name": "", "registration_required": ""},
    )  # fmt: skip
    assert response.status_code == 302
    assert "60 days to return." in client.get("/returns/").content.decode()


def test_an_unknown_information_page_is_a_404(client):
    assert client.get("/refunds/").status_code == 404


def test_ensuring_the_pages_again_keeps_an_edited_one():
    FlatPage.objects.filter(url="/about/").update(content="<p>Ours.</p>")
    assert info_pages_ensure(Site, FlatPage) == 0
    assert FlatPage.objects.get(url="/about/").content == "<p>Ours.</p>"
