from django.apps import AppConfig


class ShopConfig(AppConfig):
    """The site shell: accounts and sessions, the chrome of the base templates (the header's
    account links), health, metrics and the staff's cache dashboard. It may use every app."""

    name = "shop"

    def ready(self) -> None:
        from shelf.pages import register_visitor_slot

        from . import accounts, receivers

        receivers.connect()
        register_visitor_slot("nav", accounts.nav_slot)
