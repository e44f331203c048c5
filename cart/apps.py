from django.apps import AppConfig


class CartConfig(AppConfig):
    name = "cart"

    def ready(self) -> None:
        from shelf.pages import register_entry_slot, register_visitor_slot

        from . import receivers, selectors

        def count_slot(request) -> str:
            # Left out (the header says "Cart" alone) while the state Redis cannot say.
            count = selectors.cart_count(request)
            return "" if count is None else str(count)

        receivers.connect()
        register_visitor_slot("cart", count_slot)
        register_entry_slot("buy", selectors.buy_controls_html)
