from django.apps import AppConfig


class CartConfig(AppConfig):
    name = "cart"

    def ready(self) -> None:
        from shelf.pages import register_visitor_slot

        from . import receivers, selectors

        receivers.connect()
        register_visitor_slot("cart", lambda request: str(selectors.cart_count(request)))
