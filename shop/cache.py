"""The site shell's shelf entries: the signed-in user, so that a page view by a logged-in
shopper does not read PostgreSQL.

The entry is the user's row as JSON (with the password hash, so that an instance built from it
behaves like one read from the database: Django checks the session against a hash of it, and a
save of the instance keeps it). It lives in the cache Redis, which only the shop can reach.
Staleness: none; every save of the user bumps its tag after the commit.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser

import shelf

USER = shelf.Namespace(
    "shop.user", schema=1, ttl=3600, key_tags=lambda user_id: (f"user:{user_id}",)
)


def _fields():
    return [f for f in get_user_model()._meta.concrete_fields]


def _load(user_id: int) -> dict | None:
    user = get_user_model()._default_manager.filter(pk=user_id).first()
    if user is None:
        return None
    # None stays None: value_to_string() would turn a NULL last_login into "".
    return {
        f.attname: None if getattr(user, f.attname) is None else f.value_to_string(user)
        for f in _fields()
    }


def user_get(user_id: int) -> AbstractBaseUser | None:
    """The user with this id, built from the shelf entry; None if there is no such user."""
    data = shelf.fetch(USER, int(user_id), _load)
    if data is None:
        return None
    model = get_user_model()
    user = model(
        **{
            f.attname: None if data[f.attname] is None else f.to_python(data[f.attname])
            for f in _fields()
        }
    )
    user._state.adding = False
    user._state.db = "default"
    return user


def user_invalidate(user_id: int) -> None:
    shelf.bump_on_commit(f"user:{user_id}")
