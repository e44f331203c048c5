"""Orders: checkout, orders and payments.

Owns `Order`, `OrderLine` and `Payment` (their tables are still named shop_*: they moved here
from the shop app without moving data), pricing a cart from PostgreSQL, placing an order (stock
reservation, charge, record) idempotently per checkout, the payment provider interface, the
checkout and order pages, their admin and the confirmation email with its sweep. Uses cart,
catalog, inventory and the shelf.
"""
