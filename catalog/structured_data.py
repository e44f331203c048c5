"""schema.org JSON-LD for the shared pages: `Product` with its `Offer` and `AggregateRating` on
product pages, `BreadcrumbList` on category pages.

The JSON is built when the page is built (it is as fresh as the page: the same tags), except
the offer's availability, which must be as exact as the stock badge beside it: it is left as
the entry slot `<!--availability:<id>-->`, filled at response time from the same stock read
as the badge (inventory registers its filler). URLs are relative: the pages are rendered
without a request, and JSON-LD embedded in HTML resolves them against the page's address.
"""

import json
from collections.abc import Iterable

from django.utils.safestring import SafeString, mark_safe

# Escapes as django.utils.html.json_script makes them: nothing in the data can close the
# <script> element or open a comment there.
_SCRIPT_ESCAPES = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026"}
# Stands for the availability member until the JSON is serialised (a value no product has).
_AVAILABILITY = "\x00availability\x00"
_PRICE, _SKU = "\x00price\x00", "\x00sku\x00"


def _dumps(data: dict) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).translate(_SCRIPT_ESCAPES)


def product_jsonld(
    *, product_id: int, name: str, sku: str, brand: str, description: str, url: str,
    images: Iterable[str], price: str, rating: float, review_count: int,
    offer_slots: tuple[str, str] | None = None,
) -> SafeString:  # fmt: skip
    """The `Product` of a product page; its availability is the `availability` entry slot.
    `offer_slots`, on a page with variants: the slots of the chosen variant's price and SKU
    (filled with JSON strings), for the offer's."""
    data: dict = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": name,
        "sku": sku,
        "brand": {"@type": "Brand", "name": brand},
        "description": description,
        "url": url,
        "offers": {
            "@type": "Offer",
            "url": url,
            "price": price,
            "priceCurrency": "USD",
            "availability": _AVAILABILITY,
        },
    }
    images = list(images)
    if images:
        data["image"] = images
    if review_count:
        # Search engines refuse an AggregateRating without reviews.
        data["aggregateRating"] = {
            "@type": "AggregateRating",
            "ratingValue": f"{rating:.1f}",
            "reviewCount": review_count,
            "bestRating": 5,
            "worstRating": 1,
        }
    if offer_slots:
        data["offers"] |= {"price": _PRICE, "sku": _SKU}
    slot = f"<!--availability:{product_id}-->"
    text = _dumps(data).replace(json.dumps(_AVAILABILITY), slot)
    if offer_slots:
        text = text.replace(json.dumps(_PRICE), offer_slots[0])
        text = text.replace(json.dumps(_SKU), offer_slots[1])
    return mark_safe(text)


def json_string(text: str) -> str:
    """`text` as a JSON string that is safe inside a <script> element (a slot's filling)."""
    return json.dumps(text, ensure_ascii=False).translate(_SCRIPT_ESCAPES)


def availability_json(quantity: int | None) -> str:
    """The availability slot's filling: a JSON string, or null when the stock could not be
    read (the badge is left out then too)."""
    if quantity is None:
        return "null"
    if quantity <= 0:
        return '"https://schema.org/OutOfStock"'
    return '"https://schema.org/InStock"'


def breadcrumb_jsonld(items: Iterable[tuple[str, str]]) -> SafeString:
    """A `BreadcrumbList` of (name, url) from the home page down to the page itself."""
    return mark_safe(
        _dumps(
            {
                "@context": "https://schema.org",
                "@type": "BreadcrumbList",
                "itemListElement": [
                    {"@type": "ListItem", "position": n, "name": name, "item": url}
                    for n, (name, url) in enumerate(items, start=1)
                ],
            }
        )
    )
