from django.contrib import admin

from .models import Cart, CartLine


class CartLineInline(admin.TabularInline):
    model = CartLine
    extra = 0
    raw_id_fields = ["product"]


@admin.register(Cart)
class CartAdmin(admin.ModelAdmin):
    list_display = ["owner", "user", "version", "updated_at"]
    search_fields = ["owner", "user__username", "user__email"]
    inlines = [CartLineInline]
    raw_id_fields = ["user"]
