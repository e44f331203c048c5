"""Signal receivers: they only name what changed; catalog.services decides what to invalidate."""

from django.db.models.signals import post_delete, post_save, pre_save

from inventory.signals import stock_availability_changed

from . import services
from .models import Category, Product, ProductImage, Review

# What search results depend on: a save that changes none of these changes only prices (a
# variant's SKU and option values are words of its parent's document).
SEARCHED_FIELDS = ("category_id", "name", "brand", "description", "is_active", "sku",
                   "option_values")  # fmt: skip


def product_pre_save(sender, instance: Product, raw: bool = False, **kwargs) -> None:
    # Remember the category it may be leaving (whose listings must drop it) and what search
    # results depend on.
    instance._before = (
        Product.objects.filter(pk=instance.pk).values(*SEARCHED_FIELDS).first()
        if instance.pk and not raw
        else None
    )


def product_changed(sender, instance: Product, raw: bool = False, **kwargs) -> None:
    if raw:
        return
    before = getattr(instance, "_before", None)
    services.products_changed(
        [instance.pk],
        [instance.category_id, before and before["category_id"]],
        price_only=before is not None
        and all(getattr(instance, f) == before[f] for f in SEARCHED_FIELDS),
    )


def image_saved(sender, instance: ProductImage, raw: bool = False, **kwargs) -> None:
    if not raw:
        services.product_image_saved(instance)


def image_deleted(sender, instance: ProductImage, **kwargs) -> None:
    services.products_changed([instance.product_id])


def category_pre_save(sender, instance: Category, raw: bool = False, **kwargs) -> None:
    instance._old_parent_id = (
        Category.objects.filter(pk=instance.pk).values_list("parent_id", flat=True).first()
        if instance.pk and not raw
        else None
    )


def category_changed(sender, instance: Category, raw: bool = False, **kwargs) -> None:
    if not raw:
        services.category_changed(instance, getattr(instance, "_old_parent_id", None))


def review_pre_save(sender, instance: Review, raw: bool = False, **kwargs) -> None:
    instance._old_status = (
        Review.objects.filter(pk=instance.pk).values_list("status", flat=True).first()
        if instance.pk and not raw
        else None
    )


def review_changed(sender, instance: Review, raw: bool = False, **kwargs) -> None:
    # A review waiting for moderation changes nothing shoppers see until it is approved.
    shown = Review.Status.APPROVED
    if not raw and shown in (instance.status, getattr(instance, "_old_status", None)):
        services.product_ratings_refresh([instance.product_id])


def availability_changed(sender, product_ids: list[int], **kwargs) -> None:
    services.products_availability_changed(product_ids)


def connect() -> None:
    pre_save.connect(product_pre_save, sender=Product, dispatch_uid="catalog.product_pre_save")
    post_save.connect(product_changed, sender=Product, dispatch_uid="catalog.product_saved")
    post_delete.connect(product_changed, sender=Product, dispatch_uid="catalog.product_deleted")
    post_save.connect(image_saved, sender=ProductImage, dispatch_uid="catalog.image_saved")
    post_delete.connect(image_deleted, sender=ProductImage, dispatch_uid="catalog.image_deleted")
    pre_save.connect(category_pre_save, sender=Category, dispatch_uid="catalog.category_pre_save")
    post_save.connect(category_changed, sender=Category, dispatch_uid="catalog.category_saved")
    post_delete.connect(category_changed, sender=Category, dispatch_uid="catalog.category_deleted")
    pre_save.connect(review_pre_save, sender=Review, dispatch_uid="catalog.review_pre_save")
    post_save.connect(review_changed, sender=Review, dispatch_uid="catalog.review_saved")
    post_delete.connect(review_changed, sender=Review, dispatch_uid="catalog.review_deleted")
    stock_availability_changed.connect(
        availability_changed, dispatch_uid="catalog.stock_availability_changed"
    )
