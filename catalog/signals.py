"""What the catalog tells the apps above it, which keep data derived from its rows (search
results hold product ids and the words they were found by). The catalog does not know them:
they connect in their AppConfig.ready().

`products_changed` is sent by catalog.services in the same transaction as the change; a
receiver invalidates after the commit like the catalog does (shelf.bump_on_commit).
`change` says what moved:
- "prices": only prices changed;
- "products": products came, went, or changed their words or place;
- "everything": the whole catalog was replaced (seed_catalog).
"""

from django.dispatch import Signal

products_changed = Signal()
