import logging

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_delete, post_save
from redis.exceptions import RedisError

from .cache import user_invalidate
from .history import recent_merge_on_login

logger = logging.getLogger(__name__)


def user_changed(sender, instance, raw: bool = False, **kwargs) -> None:
    if not raw:
        user_invalidate(instance.pk)


def merge_recent(sender, request, user, **kwargs) -> None:
    if request is None:
        return
    try:
        recent_merge_on_login(request, user.pk)
    except RedisError:
        # Signing in matters more than the history: the cookie is kept for the next sign-in.
        logger.warning("state redis unavailable: recently viewed products not merged at login")


def connect() -> None:
    user = get_user_model()
    post_save.connect(user_changed, sender=user, dispatch_uid="shop.user_saved")
    post_delete.connect(user_changed, sender=user, dispatch_uid="shop.user_deleted")
    user_logged_in.connect(merge_recent, dispatch_uid="shop.merge_recent")
