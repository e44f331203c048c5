from django.contrib import admin

from .models import Stock


class StockInline(admin.StackedInline):
    """Units on hand, edited inside the product's admin page (the catalog's ProductAdmin uses
    it): the save bumps the product's stock entry after the commit (inventory.receivers)."""

    model = Stock
    can_delete = False
    min_num = 1
    max_num = 1
