from django.contrib.auth.backends import ModelBackend

from .cache import user_get


class CachedModelBackend(ModelBackend):
    """ModelBackend whose per-request user lookup comes from the shelf, not PostgreSQL."""

    def get_user(self, user_id):
        user = user_get(user_id)
        return user if self.user_can_authenticate(user) else None
