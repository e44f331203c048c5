import logging

from django.contrib.auth.signals import user_logged_in
from redis.exceptions import RedisError

from .services import cart_merge_on_login

logger = logging.getLogger(__name__)


def merge_cart(sender, request, user, **kwargs) -> None:
    if request is None or not hasattr(request, "session"):
        return
    try:
        cart_merge_on_login(request.session, user.pk)
    except RedisError:
        # Signing in matters more than the merge: the anonymous cart stays in PostgreSQL.
        logger.warning("state redis unavailable: anonymous cart not merged at login")


def connect() -> None:
    user_logged_in.connect(merge_cart, dispatch_uid="cart.merge_cart")
