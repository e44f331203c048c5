"""Settings for production: secrets and hosts must come from the environment."""

from .base import *  # noqa: F403
from .base import env, trusted_proxies

SECRET_KEY = env("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")

# SECURITY
# ------------------------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
# https://docs.djangoproject.com/en/5.2/ref/middleware/#referrer-policy
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# `__Host-` cookies are refused by browsers unless Secure, Path=/ and without a Domain: a
# sibling subdomain can then neither set nor overwrite them (session fixation, CSRF tossing).
SESSION_COOKIE_NAME = "__Host-sessionid"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_NAME = "__Host-csrftoken"
# The token reaches forms as a hidden input (shop/pages.py), never through JavaScript.
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
# Origins allowed to POST (scheme://host), e.g. https://shop.example; empty: the host itself.
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
# Production runs behind nginx (docker/nginx/shelf.conf), which appends the client's address
# to X-Forwarded-For; the header is believed only from these peers (nginx on the same host by
# default), so a client reaching the app directly cannot choose its own address.
TRUSTED_PROXIES = trusted_proxies(default=["127.0.0.1", "::1"])

EMAIL_BACKEND = env("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
