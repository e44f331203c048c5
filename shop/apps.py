from django.apps import AppConfig


class ShopConfig(AppConfig):
    name = "shop"

    def ready(self) -> None:
        from django.core.signals import request_finished, request_started

        from shelf.pages import register_shared_context, register_visitor_slot

        from . import accounts, checks, history, receivers  # noqa: F401  (checks registers itself)
        from .context_processors import site_values
        from .db import base as db

        receivers.connect()
        request_started.connect(db.request_started, dispatch_uid="shop.db.request_started")
        request_finished.connect(db.request_finished, dispatch_uid="shop.db.request_finished")
        register_visitor_slot("nav", accounts.nav_slot)
        register_visitor_slot("recent", history.recent_slot)
        register_shared_context(site_values)
