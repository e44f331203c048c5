"""Who is signed in: from the shelf for every page view, from PostgreSQL wherever rights count.

Shopper pages only need to know who the visitor is, and take a shop.models.ShelfUser built from
the cache Redis (no PostgreSQL read). The admin (the staff dashboard at /admin/cache/ included)
and the password pages decide rights or write the user, so DatabaseUserMiddleware gives them
the user read from PostgreSQL, checked against the session by Django's own get_user().
"""

import functools
from collections.abc import Callable
from contextvars import ContextVar

from django.contrib import auth
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.urls import get_script_prefix, reverse
from django.utils.functional import SimpleLazyObject

from .cache import user_get

# Set while DatabaseUserMiddleware asks Django for the user: the backend then reads PostgreSQL.
_from_database: ContextVar[bool] = ContextVar("shop_user_from_database", default=False)


class CachedModelBackend(ModelBackend):
    """ModelBackend whose per-request user lookup comes from the shelf, not PostgreSQL."""

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
    # Everything under the admin (the staff dashboard too) and the password pages; asked twice
    # a request, the same every time: reversed once per process (and prefix).
    return (reverse("admin:index"), reverse("password_change"))


class DatabaseUserMiddleware:
    """Give requests that decide rights the user from PostgreSQL, never the shelf's copy."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(rights_paths()):
            request.user = SimpleLazyObject(lambda: database_user(request))
        return self.get_response(request)
