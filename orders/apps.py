from django.apps import AppConfig


class OrdersConfig(AppConfig):
    """Checkout, orders and payments: pricing a cart from PostgreSQL, reserving stock,
    charging, the order record and its confirmation email."""

    name = "orders"
