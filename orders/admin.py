from django.contrib import admin
from django.http import HttpRequest

from .models import Order, OrderLine, Payment


class ReadOnlyInline(admin.TabularInline):
    """Lines and payments are records of what happened: shown, never edited here."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = ["name", "sku", "unit_price", "quantity", "line_total", "product"]
    readonly_fields = fields


class PaymentInline(ReadOnlyInline):
    model = Payment
    fields = ["provider", "amount", "status", "card", "reference", "created_at"]
    readonly_fields = fields


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["number", "email", "user", "status", "total", "created_at"]
    list_filter = ["status", "created_at"]
    search_fields = ["number", "email", "name", "user__username"]
    date_hierarchy = "created_at"
    list_select_related = ["user"]
    inlines = [OrderLineInline, PaymentInline]
    # Only the status moves after placing (shipped, cancelled); the rest is the order as placed.
    readonly_fields = [
        "number", "user", "email", "name", "address_line1", "address_line2", "city",
        "postcode", "country", "subtotal", "shipping", "total", "created_at", "updated_at",
        "confirmation_sent_at",
    ]  # fmt: skip
    fields = ["status", *readonly_fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
