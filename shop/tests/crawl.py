"""Every URL pattern of the URLconf, made into a URL from real objects, for tests that must
visit all of them (the Cache-Control crawl, the query-string fuzz). A pattern this cannot fill
fails the test that asked, so a new view cannot be left out by accident."""

import re
from dataclasses import dataclass

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.urls import URLPattern, URLResolver, get_resolver

from catalog.models import Category, Product, ProductImage
from catalog.sitemaps import SITEMAPS
from orders.models import Address


@dataclass(frozen=True)
class Route:
    pattern: str  # as written in the URLconf, prefixes joined
    name: str | None
    params: tuple[str, ...]


def routes() -> list[Route]:
    """Every URL pattern of the root URLconf."""

    def walk(resolver: URLResolver, prefix: str, namespace: str):
        for p in resolver.url_patterns:
            if isinstance(p, URLResolver):
                ns = namespace + (f"{p.namespace}:" if p.namespace else "")
                yield from walk(p, prefix + str(p.pattern), ns)
            elif isinstance(p, URLPattern):
                params = tuple(p.pattern.converters) or tuple(p.pattern.regex.groupindex)
                yield Route(prefix + str(p.pattern), p.name and namespace + p.name, params)

    return list(walk(get_resolver(), "", ""))


_ADMIN_OBJECT = re.compile(r"^admin/(\w+)/(\w+)/<path:object_id>/")
# Regex patterns, written out: their groups are alternations or catch-alls, not converters.
# Keyed by how the pattern starts: the admin's app list names every app with a model admin.
_REGEX_URLS = {
    "^admin/shop/(?P<rest>": "/admin/shop/order/",
    "admin/^(?P<app_label>": "/admin/orders/",
    "admin/(?P<url>.*)$": "/admin/no-such-page/",
    "^(?P<page>": "/shipping/",
}


def _regex_url(pattern: str) -> str | None:
    return next((url for start, url in _REGEX_URLS.items() if pattern.startswith(start)), None)


def url_of(route: Route, order_number: str, user_id: int) -> str:
    """A URL that `route` matches, its parameters taken from rows in the database."""
    if (url := _regex_url(route.pattern)) is not None:
        return url
    path = route.pattern
    values: dict[str, object] = {}
    if match := _ADMIN_OBJECT.match(path):
        row = apps.get_model(match[1], match[2])._default_manager.order_by("pk").first()
        values["object_id"] = row.pk if row is not None else 0
    product = Product.objects.order_by("pk").first()
    values.update(
        {
            "slug": Category.objects.order_by("pk").first().slug
            if path.startswith(("c/", "api/v1/categories/"))
            else product.slug,
            # A picture's file, or a missing one (a 404) when no product has a picture.
            "path": (ProductImage.objects.exclude(image="").values_list("image", flat=True).first()
                     or "products/none.png"),
            "product_id": product.pk,
            "section": next(iter(SITEMAPS)),
            "number": order_number,
            "id": user_id,
            # The signed-in shopper's own address when they have one (else a 404).
            "address_id": getattr(
                Address.objects.filter(user_id=user_id).order_by("pk").first(), "pk", 0
            ),
            "content_type_id": ContentType.objects.get_for_model(Product).pk,
            # A confirmation (or reset, or email change) link that is not valid: its page is a
            # 404, or says the link does not work.
            "uidb64": "MA",
            "token": "not-a-token",
        }
    )
    if path.startswith("admin/r/"):
        values["object_id"] = product.pk

    def fill(match: re.Match) -> str:
        name = match[1]
        assert name in values, f"no value for <{name}> in {route.pattern}: add one to crawl.py"
        return str(values[name])

    filled = re.sub(r"<(?:\w+:)?(\w+)>", fill, path)
    assert "<" not in filled and "(?P" not in filled, f"cannot fill {route.pattern}"
    return "/" + filled
