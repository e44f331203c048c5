from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from inventory.admin import StockInline
from inventory.services import stock_set

from . import services
from .models import Category, Product, ProductImage, Review
from .variants import option_values_parse, option_values_text


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


class SlashListField(forms.CharField):
    """A list of names typed as "Size / Colour"."""

    def prepare_value(self, value):
        return " / ".join(value) if isinstance(value, list) else value

    def to_python(self, value) -> list[str]:
        names = [n.strip() for n in (super().to_python(value) or "").split("/")]
        return [n for n in names if n]

    def validate(self, value) -> None:
        if len(set(value)) != len(value):
            raise forms.ValidationError("Each option needs a name of its own.")


class ProductForm(forms.ModelForm):
    variant_options = SlashListField(
        label="Variant options",
        required=False,
        help_text="What a shopper chooses among its variants, separated by '/', for example "
        "Size / Colour. Leave empty for a product sold as it is; its variants are added "
        "once it has options (save it first).",
    )


class VariantFormSet(forms.BaseInlineFormSet):
    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "parent": self.instance}

    def clean(self) -> None:
        super().clean()
        seen = set()
        for form in self.forms:
            values = getattr(form, "cleaned_data", {}).get("option_values")
            if not values or form.cleaned_data.get("DELETE"):
                continue
            key = tuple(sorted(values.items()))
            if key in seen:
                form.add_error("option_values", "Another variant has these options.")
            seen.add(key)


class VariantForm(forms.ModelForm):
    """A variant on its parent's admin page: its SKU, option values in the parent's order
    ("XL / Red"), price (blank: the parent's) and units on hand."""

    option_values = forms.CharField(label="Options", help_text="For example XL / Red.")
    stock = forms.IntegerField(label="Stock", min_value=0, initial=0)

    class Meta:
        model = Product
        fields = ["sku", "option_values", "price", "is_active"]

    def __init__(self, *args, parent: Product, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.parent = parent
        self.instance.parent = parent  # for the model's clean(), also on an unsaved parent
        if self.instance.pk:
            self.initial["option_values"] = option_values_text(
                parent.variant_options, self.instance.option_values
            )
            stock = getattr(self.instance, "stock", None)
            self.initial["stock"] = stock.quantity if stock else 0

    def clean_option_values(self) -> dict[str, str]:
        try:
            names = self.parent.variant_options
            return option_values_parse(names, self.cleaned_data["option_values"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc


class VariantInline(admin.TabularInline):
    """The sizes, colours... of a product, edited on its page: each a product of its own
    (SKU, stock, optional price), shown and sold through its parent's page."""

    model = Product
    fk_name = "parent"
    form = VariantForm
    formset = VariantFormSet
    extra = 0
    verbose_name = "variant"
    verbose_name_plural = "variants"


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
    search_fields = ["name", "sku", "brand", "variants__sku"]
    autocomplete_fields = ["category"]
    prepopulated_fields = {"slug": ["name"]}
    form = ProductForm
    inlines = [StockInline, ProductImageInline, VariantInline]  # see get_inlines
    actions = ["change_price"]
    readonly_fields = ["updated_at"]
    exclude = ["parent", "option_values"]

    def get_inlines(self, request: HttpRequest, obj: Product | None) -> list:
        # Variants once the product has options to tell them apart (saved first).
        inlines = [StockInline, ProductImageInline]
        return [*inlines, VariantInline] if obj is not None and obj.variant_options else inlines

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # Variants are edited on their parent's page.
        return super().get_queryset(request).filter(parent__isnull=True)

    def save_formset(self, request, form, formset, change) -> None:
        if formset.model is not Product:
            return super().save_formset(request, form, formset, change)
        parent = form.instance
        for variant in formset.save(commit=False):
            services.variant_prepare(parent, variant)
            variant.save()
        for variant_form in formset.forms:
            data = getattr(variant_form, "cleaned_data", None)
            if data and not data.get("DELETE") and variant_form.instance.pk:
                stock_set(variant_form.instance.pk, data["stock"])
        for variant in formset.deleted_objects:
            variant.delete()

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        # A renamed or moved product renames or moves its variants (their cards and orders
        # name them).
        variants = services.product_variants_sync(form.instance)
        if variants:
            services.products_changed(variants)

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
