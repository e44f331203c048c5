from django.apps import AppConfig


class ShopConfig(AppConfig):
    name = "shop"

    def ready(self) -> None:
        from shelf.pages import register_visitor_slot

        from . import accounts, checks, receivers  # noqa: F401  (checks registers itself)

        receivers.connect()
        register_visitor_slot("nav", accounts.nav_slot)
