"""The shop's information pages: shipping, returns, privacy, contact and about.

Their text lives in django.contrib.flatpages (edited in the admin, created by
shop/migrations/0002_info_pages.py); this fixes their addresses and names, so templates link
them with {% url 'shop:info' '<page>' %}.
"""

from django.contrib.flatpages.views import flatpage
from django.http import HttpRequest, HttpResponse
from django.urls import path, re_path

from . import views

app_name = "shop"

INFO_PAGES = ("shipping", "returns", "privacy", "contact", "about")


def info(request: HttpRequest, page: str) -> HttpResponse:
    return flatpage(request, f"/{page}/")


urlpatterns = [
    re_path(rf"^(?P<page>{'|'.join(INFO_PAGES)})/$", info, name="info"),
    # The CSRF token of a page kept for everyone by the edge cache (shop.views.csrf).
    path("csrf/", views.csrf, name="csrf"),
]
