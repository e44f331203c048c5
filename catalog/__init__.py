"""Catalog: departments, categories, products and their pictures.

Owns those models and their admin, the shared pages built from them (home, category listings,
product pages) and the product entries on the shelf, their invalidation after every save
(`services`), the popularity ranking, the sitemap and the demo catalog (`seed_catalog`). Tells
the apps above it what changed through `signals.products_changed`. Uses inventory (stock shown
on its pages) and the shelf.
"""
