"""SHELF_SITE_NAME is the name every page shows, the shared pages kept on the shelf too."""

import pytest
from django.test import Client

from catalog.tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

NAME = "Corner Emporium"


@pytest.fixture
def pages(settings):
    settings.SITE_NAME = NAME
    department = CategoryFactory(name="Kitchen", slug="kitchen", parent=None)
    kettles = CategoryFactory(name="Kettles", slug="kettles", parent=department)
    product = ProductFactory(name="Steel Kettle", category=kettles)
    return {
        "home": "/",
        "listing": "/c/kettles/",
        "product": f"/p/{product.slug}/",
        "search": "/search/?q=kettle",
        "login": "/accounts/login/",
        "not found": "/no-such-page/",
    }


def test_every_page_shows_the_configured_name_from_the_shelf_too(pages):
    client = Client()
    for _ in range(2):  # built, then served from the shelf
        for name, url in pages.items():
            html = client.get(url).content.decode()
            assert f"{NAME}</title>" in html, name
            assert f"{NAME}</a>" in html and f"<strong>{NAME}</strong>" in html, name
            assert "Shelf" not in html, name


def test_the_error_pages_show_the_configured_name(settings):
    from shop.views import database_unavailable, server_error

    settings.SITE_NAME = NAME
    request = Client().get("/").wsgi_request
    for response in (server_error(request), database_unavailable(request)):
        html = response.content.decode()
        assert f"· {NAME}</title>" in html and "Shelf" not in html
