"""Search: full-text product search in PostgreSQL.

Owns the cached results pages, the typo vocabulary (`SearchTerm`), the ranking of what shoppers
search for, and the rate limit's use. Listens to the catalog's `products_changed` to expire
results. Uses catalog (product cards), inventory (stock) and the shelf.
"""
