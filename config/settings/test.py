"""Settings for pytest: other Redis database numbers and another PostgreSQL database, so tests
never touch the data of a running shop."""

from urllib.parse import urlsplit, urlunsplit

from .base import *  # noqa: F403
from .base import (
    BASE_DIR,
    CACHES,
    CELERY_BROKER_URL,
    DATABASES,
    MIDDLEWARE,
    REDIS_CACHE_URL,
    REDIS_STATE_URL,
    SHELF_BREAKER_DIR,
    env,
)


def _with_db(url: str, number: int) -> str:
    """Return the same Redis server's URL with another database number."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{number}"))


SECRET_KEY = "test-only-not-secret"
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The worker-kill test gives its worker a slow backend (shop/tests/mailers.py).
EMAIL_BACKEND = env("TEST_EMAIL_BACKEND", default="django.core.mail.backends.locmem.EmailBackend")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# `make test` runs the suite in parallel processes (pytest-xdist: PYTEST_XDIST_WORKER is gw0,
# gw1, ...). pytest-django gives each its own database (shelf_test_gw1); each gets a Redis
# server of its own too, from TEST_REDIS_SERVERS (one URL per worker, scripts/test.sh starts
# them): on a shared server one worker's FLUSHDB and writes would reach the other's L1 through
# Redis's client tracking, which follows key names on every database. The host-wide breaker
# flags are per worker as well, so that one worker's reset never closes another's breaker.
_WORKER = int(env("PYTEST_XDIST_WORKER", default="gw0").removeprefix("gw") or 0)
_SERVERS = env.list("TEST_REDIS_SERVERS", default=[])
if _WORKER and len(_SERVERS) > _WORKER:
    REDIS_CACHE_URL = REDIS_STATE_URL = CELERY_BROKER_URL = _SERVERS[_WORKER]
if _WORKER:
    SHELF_BREAKER_DIR = f"{SHELF_BREAKER_DIR}-gw{_WORKER}"

# Pictures uploaded or seeded by tests, apart from a running shop's; kept between runs so the
# shared demo pictures are drawn once.
MEDIA_ROOT = env.path(
    "TEST_MEDIA_ROOT",
    # Parallel workers: one folder each.
    default=BASE_DIR / ".local" / (f"test-media-gw{_WORKER}" if _WORKER else "test-media"),
)

DATABASES["default"]["TEST"] = {"NAME": env("TEST_DATABASE_NAME", default="shelf_test")}
# Fresh connections per request in-process; the hung-PostgreSQL test gives gunicorn
# production's persistent connections (the case without a read deadline used to hang).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("TEST_DATABASE_CONN_MAX_AGE", default=0)

REDIS_CACHE_URL = env("TEST_REDIS_CACHE_URL", default=_with_db(REDIS_CACHE_URL, 10))
REDIS_STATE_URL = env("TEST_REDIS_STATE_URL", default=_with_db(REDIS_STATE_URL, 11))
CACHES["default"]["LOCATION"] = REDIS_CACHE_URL
CACHES["state"]["LOCATION"] = REDIS_STATE_URL
CELERY_BROKER_URL = env("TEST_CELERY_BROKER_URL", default=_with_db(CELERY_BROKER_URL, 12))
# Unit tests run tasks in-process; the worker test starts a real worker against the broker.
# The real-worker tests start `celery worker` with this set to False in its environment.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
CELERY_TASK_EAGER_PROPAGATES = True

# Tests serve static files from their source folders through WhiteNoise's finders, as DEBUG
# does, so no collectstatic has to run first; and with no STATIC_ROOT to index, WhiteNoise does
# not warn "No directory at: .../staticfiles/" for every test client.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True

# The freshness test reads a page from every gunicorn worker and must know which one answered:
# opt in to the benchmark's middleware, which names the worker (`X-Shelf-Worker: <pid>`). First,
# as in the bench settings, so that it sees every response, the shelf's included.
if env.bool("TEST_WORKER_HEADER", default=False):
    MIDDLEWARE = ["bench.middleware.SQLCountMiddleware", *MIDDLEWARE]
