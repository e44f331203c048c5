from django.contrib.auth.models import User


class ShelfUserReadOnly(TypeError):
    """A user built from the shelf was asked to write to PostgreSQL."""


class ShelfUser(User):
    """The signed-in user as the shelf knows it: who they are, never what they may do.

    Built from the `shop.user` entry (shop/cache.py), which holds no password hash and no
    rights: is_staff and is_superuser are always False here, so a forged entry in the cache
    Redis cannot grant them. Requests that decide rights (the admin, a password change) get
    the user from PostgreSQL instead (shop.auth.DatabaseUserMiddleware). Anything that would
    write this copy over the real row is refused.
    """

    session_hash = ""

    class Meta:
        proxy = True

    def save(self, *args, **kwargs) -> None:
        raise ShelfUserReadOnly("a user from the shelf cannot be saved; load it from PostgreSQL")

    def delete(self, *args, **kwargs):
        raise ShelfUserReadOnly("a user from the shelf cannot be deleted; load it from PostgreSQL")

    def set_password(self, raw_password: str | None) -> None:
        raise ShelfUserReadOnly("a user from the shelf has no password; load it from PostgreSQL")

    def get_session_auth_hash(self) -> str:
        """The hash the session was signed in with, as stored in the entry (see shop/cache.py)."""
        return self.session_hash

    def get_session_auth_fallback_hash(self):
        # Only reached when the current hash did not match (SECRET_KEY_FALLBACKS during a key
        # rotation, or a changed password): rare enough to ask PostgreSQL, which holds the hash.
        row = User._default_manager.filter(pk=self.pk).first()
        if row is not None:
            yield from row.get_session_auth_fallback_hash()
