from django.db.models.signals import post_delete, post_save

from .cache import stock_refresh
from .models import Stock
from .signals import availability_changed


def stock_saved(sender, instance: Stock, raw: bool = False, **kwargs) -> None:
    if not raw:
        # An admin's edit: written through after the commit, like a reservation (with the
        # product it is a variant of, whose level sums its variants').
        products = Stock._meta.get_field("product").related_model.objects
        parent = products.filter(pk=instance.product_id).values_list("parent_id", flat=True)
        stock_refresh([instance.product_id], list(parent))
        # The level before the edit is not known here: the product may have sold out or come back.
        availability_changed([instance.product_id])


def connect() -> None:
    post_save.connect(stock_saved, sender=Stock, dispatch_uid="inventory.stock_saved")
    post_delete.connect(stock_saved, sender=Stock, dispatch_uid="inventory.stock_deleted")
