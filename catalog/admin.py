from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from inventory.admin import StockInline

from . import services
from .models import Category, Product, ProductImage, Review


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "parent", "slug", "position", "is_active"]
    list_filter = ["is_active", ("parent", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


class ProductImageInline(admin.TabularInline):
    """Pictures edited with their product; a bad upload is an error on its row (the
    field's validators, catalog.images.upload_validate), and nothing is saved."""

    model = ProductImage
    fields = ["position", "image", "alt", "size"]
    readonly_fields = ["size"]
    extra = 0

    @admin.display(description="size")
    def size(self, image: ProductImage) -> str:
        return f"{image.width} x {image.height}" if image.width else "-"


class LowStockFilter(admin.SimpleListFilter):
    title = "stock"
    parameter_name = "stock"

    def lookups(self, request, model_admin):
        return [("out", "Out of stock"), ("low", "Low (under 10)")]

    def queryset(self, request, queryset):
        if self.value() == "out":
            return queryset.filter(stock__quantity=0)
        if self.value() == "low":
            return queryset.filter(stock__quantity__gt=0, stock__quantity__lt=10)
        return queryset


class PricePercentForm(forms.Form):
    percent = forms.DecimalField(
        max_digits=5, decimal_places=2, min_value=Decimal("-99"), max_value=Decimal("500"),
        help_text="For example 10 for +10%, or -15 for 15% off.",
    )  # fmt: skip


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "sku", "price", "stock_quantity", "category", "is_active"]
    list_filter = ["is_active", LowStockFilter, ("category", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["category__parent", "stock"]
    search_fields = ["name", "sku", "brand"]
    autocomplete_fields = ["category"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [StockInline, ProductImageInline]
    actions = ["change_price"]
    readonly_fields = ["updated_at"]

    @admin.display(description="stock", ordering="stock__quantity")
    def stock_quantity(self, product: Product) -> int | None:
        return getattr(getattr(product, "stock", None), "quantity", None)

    @admin.action(description="Change price by N%%")
    def change_price(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        form = PricePercentForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            try:
                count = services.product_price_change_percent(
                    queryset.values_list("pk", flat=True), form.cleaned_data["percent"]
                )
            except (ValueError, InvalidOperation) as exc:
                self.message_user(request, str(exc), messages.ERROR)
                return None
            self.message_user(request, f"Changed the price of {count} products.")
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Change price by N%",
            "form": form,
            "products": queryset,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/catalog/product/change_price.html", context)


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    """Moderation: a review shows on the storefront once approved; approving, rejecting,
    editing or deleting an approved one updates the product's rating after the commit."""

    list_display = ["title", "product", "author", "rating", "status", "created_at"]
    list_filter = ["status", "rating"]
    list_select_related = ["product"]
    search_fields = ["title", "text", "author", "product__name"]
    raw_id_fields = ["product", "user"]
    readonly_fields = ["created_at"]
    actions = ["approve", "reject"]

    @admin.action(description="Approve the selected reviews")
    def approve(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = services.reviews_moderate(queryset.values_list("pk", flat=True), "approved")
        self.message_user(request, f"Approved {count} review{'s' if count != 1 else ''}.")

    @admin.action(description="Reject the selected reviews")
    def reject(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = services.reviews_moderate(queryset.values_list("pk", flat=True), "rejected")
        self.message_user(request, f"Rejected {count} review{'s' if count != 1 else ''}.")
