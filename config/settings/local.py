"""Settings for a developer's machine: `make run`."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="local-only-not-secret-8c1f0a4e2b7d4f6aa3e9")
EMAIL_BACKEND = env(
    "DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend"
)
# The demo admin account that `make run` creates; local settings only.
SHELF_DEMO_ADMIN = {"username": "admin", "password": "shelf-admin", "email": "admin@example.com"}
