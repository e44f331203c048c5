from django.apps import AppConfig


class ShopConfig(AppConfig):
    name = "shop"

    def ready(self) -> None:
        from shelf.pages import register_visitor_slot

        from . import accounts, receivers

        receivers.connect()
        register_visitor_slot("nav", accounts.nav_slot)
