"""Who is signed in: from the shelf for every page view, from PostgreSQL wherever rights count.

Shopper pages only need to know who the visitor is, and take a shop.models.ShelfUser built from
the cache Redis (no PostgreSQL read). The admin (the staff dashboard at /admin/cache/ included),
the password pages and the profile and email pages decide rights or write the user, so
DatabaseUserMiddleware gives them the user read from PostgreSQL, checked against the session by
Django's own get_user().
"""

import functools
from collections.abc import Callable
from contextvars import ContextVar

from django.contrib import auth
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.urls import get_script_prefix, reverse
from django.utils.functional import SimpleLazyObject

from .cache import user_get

# Emails are not unique in auth's table (an admin may give two accounts one): the password
# decides between a few; more than this many sharing an address sign in by username only.
MAX_MATCHES = 3

# Set while DatabaseUserMiddleware asks Django for the user: the backend then reads PostgreSQL.
_from_database: ContextVar[bool] = ContextVar("shop_user_from_database", default=False)


class CachedModelBackend(ModelBackend):
    """ModelBackend whose per-request user lookup comes from the shelf, not PostgreSQL, and
    whose sign-in takes the email address (any case) as well as the username."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None or password is None or "@" not in username:
            return super().authenticate(request, username=username, password=password, **kwargs)
        # Both lookups in one query, then the password checked once for the usual case of one
        # match (and once, on a dummy, for none): an address's existence shows in no timing.
        users = get_user_model()._default_manager
        candidates = sorted(
            users.filter(Q(username=username) | Q(email__iexact=username.strip()))[:MAX_MATCHES],
            key=lambda user: (user.get_username() != username, user.pk),
        )
        if not candidates:
            get_user_model()().set_password(password)
        for user in candidates:
            if user.check_password(password) and self.user_can_authenticate(user):
                return user
        return None

    def get_user(self, user_id):
        if _from_database.get():
            return super().get_user(user_id)
        user = user_get(user_id)
        return user if self.user_can_authenticate(user) else None


def database_user(request: HttpRequest) -> AbstractBaseUser | AnonymousUser:
    """The signed-in user read from PostgreSQL and verified against the session."""
    token = _from_database.set(True)
    try:
        return auth.get_user(request)
    finally:
        _from_database.reset(token)


def rights_paths() -> tuple[str, ...]:
    """Path prefixes of the pages that decide rights or write the user."""
    return _rights_paths(get_script_prefix())


@functools.cache
def _rights_paths(script_prefix: str) -> tuple[str, ...]:
    # Everything under the admin (the staff dashboard too), the password pages (reset too) and
    # the pages that change the profile or the email; asked twice a request, the same every
    # time: reversed once per process (and prefix).
    return (
        reverse("admin:index"),
        reverse("password_change"),
        reverse("profile"),
        reverse("email_change"),
    )


class DatabaseUserMiddleware:
    """Give requests that decide rights the user from PostgreSQL, never the shelf's copy."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(rights_paths()):
            request.user = SimpleLazyObject(lambda: database_user(request))
        return self.get_response(request)
