from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete, post_save

from .cache import user_invalidate


def user_changed(sender, instance, raw: bool = False, **kwargs) -> None:
    if not raw:
        user_invalidate(instance.pk)


def connect() -> None:
    user = get_user_model()
    post_save.connect(user_changed, sender=user, dispatch_uid="shop.user_saved")
    post_delete.connect(user_changed, sender=user, dispatch_uid="shop.user_deleted")
