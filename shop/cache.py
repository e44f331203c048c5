"""The site shell's shelf entries: the signed-in user, so that a page view by a logged-in
shopper does not read PostgreSQL.

The entry holds who the user is (id, names, email, is_active, dates) and the session auth
hash Django checks each session against (an HMAC of the password hash under SECRET_KEY, the
same value every session of the user already carries). It holds neither the password hash nor
is_staff / is_superuser: whoever can write to the cache Redis must not be able to sign in as
anyone or gain a right. What it builds is a shop.models.ShelfUser, which refuses to be saved.
Staleness: none; every save of the user bumps its tag after the commit (a password change
too, so the stored session hash follows it).
"""

from django.contrib.auth import get_user_model

import shelf

from .models import ShelfUser

USER = shelf.Namespace(
    "shop.user", schema=2, ttl=3600, key_tags=lambda user_id: (f"user:{user_id}",)
)
# Identity and display fields only: nothing here may decide a right.
FIELDS = ("id", "username", "first_name", "last_name", "email", "is_active", "last_login",
          "date_joined")  # fmt: skip


def _load(user_id: int) -> dict | None:
    user = get_user_model()._default_manager.filter(pk=user_id).first()
    if user is None:
        return None
    fields = get_user_model()._meta
    # None stays None: value_to_string() would turn a NULL last_login into "".
    data = {
        name: None if getattr(user, name) is None else fields.get_field(name).value_to_string(user)
        for name in FIELDS
    }
    data["session_hash"] = user.get_session_auth_hash()
    return data


def user_get(user_id: int) -> ShelfUser | None:
    """The user with this id, built from the shelf entry; None if there is no such user."""
    user_id = int(user_id)
    data = shelf.fetch(USER, user_id, _load)
    # An entry that names another user, or lacks a field, is not this user's: refuse it.
    if not isinstance(data, dict) or str(data.get("id")) != str(user_id):
        return None
    if not all(name in data for name in (*FIELDS, "session_hash")):
        return None
    fields = get_user_model()._meta
    user = ShelfUser(
        **{
            name: None if data[name] is None else fields.get_field(name).to_python(data[name])
            for name in FIELDS
        },
        is_staff=False,
        is_superuser=False,
    )
    user.session_hash = str(data["session_hash"])
    user._state.adding = False
    user._state.db = "default"
    return user


def user_invalidate(user_id: int) -> None:
    shelf.bump_on_commit(f"user:{user_id}")
