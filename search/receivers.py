"""Receivers: the catalog says what changed, search.services decides what expires."""

from catalog.signals import products_changed

from . import services

_ON_CHANGE = {
    # Results sorted or filtered by price expire; the cards show new prices anyway.
    "prices": services.search_prices_changed,
    # Products came, went, or changed their words or place: every search entry expires.
    "products": services.search_catalog_changed,
    "everything": services.search_catalog_reloaded,
}


def catalog_changed(sender, change: str, **kwargs) -> None:
    _ON_CHANGE[change]()


def connect() -> None:
    products_changed.connect(catalog_changed, dispatch_uid="search.catalog_changed")
