"""Signal receivers: they only name what changed; catalog.services decides what to invalidate."""

from django.db.models.signals import post_delete, post_save, pre_save

from . import services
from .models import Category, Product, ProductImage


def product_pre_save(sender, instance: Product, raw: bool = False, **kwargs) -> None:
    # Remember the category it is leaving, whose listings must drop it too.
    instance._old_category_id = (
        Product.objects.filter(pk=instance.pk).values_list("category_id", flat=True).first()
        if instance.pk and not raw
        else None
    )


def product_changed(sender, instance: Product, raw: bool = False, **kwargs) -> None:
    if not raw:
        old = getattr(instance, "_old_category_id", None)
        services.products_changed([instance.pk], [instance.category_id, old])


def image_changed(sender, instance: ProductImage, raw: bool = False, **kwargs) -> None:
    if not raw:
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


def connect() -> None:
    pre_save.connect(product_pre_save, sender=Product, dispatch_uid="catalog.product_pre_save")
    post_save.connect(product_changed, sender=Product, dispatch_uid="catalog.product_saved")
    post_delete.connect(product_changed, sender=Product, dispatch_uid="catalog.product_deleted")
    post_save.connect(image_changed, sender=ProductImage, dispatch_uid="catalog.image_saved")
    post_delete.connect(image_changed, sender=ProductImage, dispatch_uid="catalog.image_deleted")
    pre_save.connect(category_pre_save, sender=Category, dispatch_uid="catalog.category_pre_save")
    post_save.connect(category_changed, sender=Category, dispatch_uid="catalog.category_saved")
    post_delete.connect(category_changed, sender=Category, dispatch_uid="catalog.category_deleted")
