from django.apps import AppConfig


class InventoryConfig(AppConfig):
    """Units on hand per product: reservations at checkout, and the stock entries and badges
    every shared page shows through its `stock` slots."""

    name = "inventory"

    def ready(self) -> None:
        from shelf.pages import register_entry_slot

        from . import receivers, selectors

        receivers.connect()
        register_entry_slot("stock", selectors.stock_badge_html)
