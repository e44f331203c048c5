"""Inventory: units on hand per product.

Owns the `Stock` rows, the all-or-nothing reservation that checkout calls
(`services.stock_reserve`, decided by PostgreSQL), the stock entries on the shelf (updated after
every committed change) and the badges that fill every shared page's `<!--stock:<id>-->`
slots. Uses only the shelf.
"""
