from django.apps import AppConfig


class CartConfig(AppConfig):
    """The visitor's cart: lines in the state Redis, written behind to PostgreSQL, merged at
    login, and the cart count in every page's header."""

    name = "cart"

    def ready(self) -> None:
        from shelf.pages import register_visitor_slot

        from . import receivers, selectors

        receivers.connect()
        register_visitor_slot("cart", lambda request: str(selectors.cart_count(request)))
