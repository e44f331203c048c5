"""Settings for `make bench`: production's settings, served over plain HTTP on loopback.

Only what a loopback benchmark cannot do like production changes: no HTTPS (no redirect, no
secure-only cookies, no HSTS), no outgoing email, and the bench URLconf and middleware, which
add the ceiling views and an `X-SQL-Count` response header. SHELF_ENABLED comes from the
environment as usual: the benchmark runs one gunicorn with it and one without.
"""

import os

# production.py insists on these two; the benchmark's data are throwaway, its hosts loopback.
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-not-secret-5d0c1e9a7b3f4e21")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")

from .production import *  # noqa: F403
from .production import MIDDLEWARE

SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
# Plain names: a `__Host-` cookie must be Secure, which plain HTTP cannot carry. The load
# generator (bench/locustfile.py) uses these names.
SESSION_COOKIE_NAME = "sessionid"
CSRF_COOKIE_NAME = "csrftoken"
# Order confirmations go nowhere: there is no mail server on a benchmark machine.
EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"

# The shop's URLs plus the ceiling views (/bench/bare/, /bench/prerendered/), never in the
# shop's own URLconf.
ROOT_URLCONF = "config.urls_bench"
# First, so that it counts every statement of a request, sessions and middleware included.
MIDDLEWARE = ["bench.middleware.SQLCountMiddleware", *MIDDLEWARE]
