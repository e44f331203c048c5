from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "inventory"

    def ready(self) -> None:
        from shelf.pages import register_entry_slot

        from . import receivers, selectors

        receivers.connect()
        register_entry_slot("stock", selectors.stock_badge_html)
