"""Settings shared by every environment; every value comes from the environment.

See .env.example for the full list with defaults.
"""

import ipaddress
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import environ
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()
# A .env file beside manage.py is optional; real environments set variables directly.
env.read_env(BASE_DIR / ".env", overwrite=False)

# GENERAL
# ------------------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"
USE_I18N = False
USE_TZ = True
SITE_NAME = env("SHELF_SITE_NAME", default="Shelf")
# The one Site of django.contrib.sites (the admin-edited information pages belong to it).
SITE_ID = 1

# DATABASES
# ------------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/shelf"),
}
# Persistent connections: a gunicorn worker keeps its connection between requests.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# An unreachable PostgreSQL fails a request in seconds (the shop's 503 page), not after the
# operating system's TCP timeout of minutes.
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.int(
    "DATABASE_CONNECT_TIMEOUT", default=5
)
# Every wait has a deadline, also when PostgreSQL hangs instead of failing (a frozen server's
# kernel still accepts connections and acknowledges bytes). See shop/db/base.py and the
# README's "Faults". https://www.postgresql.org/docs/current/libpq-connect.html
DATABASES["default"]["ENGINE"] = "shop.db"
# Client side, web requests only: seconds any one wait for PostgreSQL may take (0: none).
DATABASE_READ_TIMEOUT = env.float("DATABASE_READ_TIMEOUT", default=1.0)
# After a connect or read that failed, new connections fail at once for this many seconds.
DATABASE_BREAKER_RESET = env.float("DATABASE_BREAKER_RESET", default=1.0)
# Until a connect succeeds again, a connection kept from before the failure gets this long
# (seconds) for its health check at a request's first query, not the whole read deadline.
DATABASE_RECHECK_TIMEOUT = env.float("DATABASE_RECHECK_TIMEOUT", default=0.2)
DATABASES["default"]["OPTIONS"].update(
    {
        # Server side, every process: a runaway statement is cancelled (a migration that needs
        # longer runs with DATABASE_STATEMENT_TIMEOUT=0). Milliseconds for PostgreSQL.
        "options": "-c statement_timeout={}".format(
            int(env.float("DATABASE_STATEMENT_TIMEOUT", default=30) * 1000)
        ),
        # Kernel side, every process (Celery has no read deadline): sent data unacknowledged
        # this long, or an idle connection whose peer answers no keepalive, is dropped.
        "tcp_user_timeout": int(env.float("DATABASE_TCP_USER_TIMEOUT", default=10) * 1000),
        "keepalives": 1,
        "keepalives_idle": env.int("DATABASE_KEEPALIVES_IDLE", default=10),
        "keepalives_interval": 2,
        "keepalives_count": 3,
    }
)
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# REDIS ROLES
# ------------------------------------------------------------------------------
# Three roles, three URLs: eviction and persistence are per server, so the shelf (may evict,
# no persistence), the state (sessions and carts: must not evict) and the broker (must not
# evict) can each live on a server configured for them. Locally they may share one server.
# REDIS_CACHE_URL may name a Redis Cluster instead of one server:
#   redis-cluster://host:port,host:port,host:port (database 0; see shelf/client.py).
REDIS_CACHE_URL = env("REDIS_CACHE_URL", default="redis://127.0.0.1:6379/0")
# With REDIS_STATE_SENTINELS (host:port,host:port) the state role is found through Redis
# Sentinel, and REDIS_STATE_URL names the master instead of a host: redis://<master name>/<db>.
REDIS_STATE_URL = env("REDIS_STATE_URL", default="redis://127.0.0.1:6379/1")
REDIS_STATE_SENTINELS = env.list("REDIS_STATE_SENTINELS", default=[])
# A request never waits longer than this for the cache Redis; after that PostgreSQL serves.
SHELF_REDIS_TIMEOUT = env.float("SHELF_REDIS_TIMEOUT", default=0.25)
# Set to False to send every read to PostgreSQL (the "before" configuration of the benchmark).
SHELF_ENABLED = env.bool("SHELF_ENABLED", default=True)
# Consecutive cache failures that open the circuit breaker, and seconds it stays open.
SHELF_BREAKER_FAILURES = env.int("SHELF_BREAKER_FAILURES", default=3)
SHELF_BREAKER_RESET = env.int("SHELF_BREAKER_RESET", default=5)
# Count hits and misses per namespace (off only to measure what counting costs).
SHELF_COUNTERS = env.bool("SHELF_COUNTERS", default=True)
# A loader slower than this many seconds is logged as a slow load.
SHELF_SLOW_LOAD = env.float("SHELF_SLOW_LOAD", default=0.5)
# warm_cache and the beat task fill the cache Redis up to this share of its maxmemory, so that
# warming never makes it evict (shelf/warming.py).
SHELF_WARM_BUDGET = env.float("SHELF_WARM_BUDGET", default=0.8)
# Where `manage.py train_dictionaries` writes the shop's own zstd dictionaries and every process
# reads them ("": the ones the apps ship; see shelf/compression.py and the README).
SHELF_DICTIONARY_DIR = env("SHELF_DICTIONARY_DIR", default="")

# The per-process L1 in front of the cache Redis (shelf/l1.py): its size in bytes (0: off),
# how long a key may stay in it at most, and how recently the invalidation channel must have
# answered a PING for L1 to be used (keep it below SHELF_REDIS_TIMEOUT: see the README's
# "How the shelf works").
SHELF_L1_MAX_BYTES = env.int("SHELF_L1_MAX_BYTES", default=64 * 1024 * 1024)
SHELF_L1_TTL = env.float("SHELF_L1_TTL", default=60.0)
SHELF_L1_LEASE = env.float("SHELF_L1_LEASE", default=0.2)
# Seconds past the last PONG that L1 keeps serving what it holds while the cache Redis hangs
# and no bump waits in the outbox (0: off; see the README's "Faults").
SHELF_L1_HOLD = env.float("SHELF_L1_HOLD", default=30.0)

# Where the circuit breakers (cache Redis, state Redis, PostgreSQL) share their state with the
# host's other processes (shelf/hostflag.py): one small file each. Empty: each process alone.
SHELF_BREAKER_DIR = env("SHELF_BREAKER_DIR", default=str(BASE_DIR / ".local" / "run" / "breakers"))

# The edge caches in front of the app servers (shelf/edge.py, docker/varnish/shelf.vcl): their
# base URLs, purged after every bump (empty: no edge); seconds a purge may take before it goes
# to the outbox; seconds an edge keeps a page at most (a backstop: purges keep it exact).
SHELF_EDGE_CACHES = env.list("SHELF_EDGE_CACHES", default=[])
SHELF_EDGE_TIMEOUT = env.float("SHELF_EDGE_TIMEOUT", default=0.5)
SHELF_EDGE_TTL = env.int("SHELF_EDGE_TTL", default=300)
# Seconds the state Redis is not tried after a failure (then one request probes it).
REDIS_STATE_BREAKER_RESET = env.float("REDIS_STATE_BREAKER_RESET", default=2.0)

CACHES = {
    # The display shelf. The toolkit (the shelf app) talks to it; nothing else should.
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_CACHE_URL,
        "KEY_PREFIX": "",
        "OPTIONS": {
            # django-redis's DefaultClient, or RedisCluster for a redis-cluster:// URL.
            "CLIENT_CLASS": "shelf.client.ShelfClient",
            "SERIALIZER": "django_redis.serializers.json.JSONSerializer",
            "SOCKET_CONNECT_TIMEOUT": SHELF_REDIS_TIMEOUT,
            "SOCKET_TIMEOUT": SHELF_REDIS_TIMEOUT,
            # django-redis covers only get/set-style calls with this; the toolkit guards the rest.
            "IGNORE_EXCEPTIONS": True,
        },
    },
    # Sessions and carts. Errors are not ignored here: a silently lost session write logs the
    # shopper out (see django/contrib/sessions/backends/cache.py).
    "state": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_STATE_URL,
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            # JSON, never pickle: a value in Redis must not be able to run code when read.
            "SERIALIZER": "django_redis.serializers.json.JSONSerializer",
            "SOCKET_CONNECT_TIMEOUT": env.float("REDIS_STATE_TIMEOUT", default=0.5),
            "SOCKET_TIMEOUT": env.float("REDIS_STATE_TIMEOUT", default=0.5),
            # Behind a circuit breaker: a hung state Redis costs one timeout per process and
            # REDIS_STATE_BREAKER_RESET seconds, not one per command (shop/state.py).
            "REDIS_CLIENT_CLASS": "shop.state.StateRedis",
        },
    },
}
# django-ratelimit's counters (search), in the cache Redis behind the shelf's circuit breaker
# (shop/security.py): a Redis outage never slows a search down, and leaves searches unlimited.
CACHES["ratelimit"] = {"BACKEND": "shop.security.ShelfRateLimitCache", "KEY_PREFIX": "rl"}


def redis_sentinel_options(sentinels: list[str], timeout: float) -> dict:
    """OPTIONS that make a django-redis alias find its master through Redis Sentinel.

    https://github.com/jazzband/django-redis#use-the-sentinel-connection-factory
    """
    return {
        "CLIENT_CLASS": "django_redis.client.SentinelClient",
        "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
        "SENTINELS": [(h, int(p)) for h, _, p in (s.rpartition(":") for s in sentinels)],
        "SENTINEL_KWARGS": {"socket_timeout": timeout, "socket_connect_timeout": timeout},
    }


if REDIS_STATE_SENTINELS:
    # One location, the master: sessions and carts must read their own writes, which a replica
    # (where SentinelClient sends reads given a plain URL) may not have received yet.
    CACHES["state"]["LOCATION"] = [REDIS_STATE_URL]
    CACHES["state"]["OPTIONS"].update(
        redis_sentinel_options(REDIS_STATE_SENTINELS, env.float("REDIS_STATE_TIMEOUT", default=0.5))
    )

# SESSIONS AND ACCOUNTS
# ------------------------------------------------------------------------------
# Read from the state Redis with a sliding idle expiry, written through to PostgreSQL, so a
# Redis outage or flush never logs anyone out (see shop/sessions.py).
SESSION_ENGINE = "shop.sessions"
SESSION_CACHE_ALIAS = "state"
# Idle seconds before a session ends; each request slides it (the cookie lasts the browser
# session, the server decides).
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_SAVE_EVERY_REQUEST = False
# The signed-in user comes from the shelf, so a logged-in page view reads no PostgreSQL; the
# admin and the password pages read it from PostgreSQL (shop/auth.py): the shelf grants no right.
# Axes first: it refuses a locked-out client before any password is checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "shop.auth.CachedModelBackend"]
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

# CLIENTS, LOGIN THROTTLING AND RATE LIMITS (see shop/security.py and the README's "Security")
# ------------------------------------------------------------------------------
def trusted_proxies(default: list[str]) -> list[str]:
    """TRUSTED_PROXIES from the environment, each value checked now: a typo must stop the
    process at its start with this message, not fail the first request that reads an address."""
    proxies = env.list("TRUSTED_PROXIES", default=default)
    for proxy in proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise ImproperlyConfigured(
                f"TRUSTED_PROXIES: {proxy!r} is not an IP address or network; give addresses "
                "or CIDR networks, comma-separated (e.g. 127.0.0.1,::1,172.16.0.0/12), "
                "never host names"
            ) from None
    return proxies


# Addresses or networks of our proxies (nginx) that append to X-Forwarded-For; the header is
# read only from these peers. Empty: the header is ignored and REMOTE_ADDR is the client.
TRUSTED_PROXIES = trusted_proxies(default=[])
# django-axes: https://django-axes.readthedocs.io/en/latest/4_configuration.html
# Failed logins are recorded in PostgreSQL (the database handler): logging in needs PostgreSQL
# anyway, so throttling works exactly as well as logging in does, whatever Redis does.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
# Lock out an address after AXES_FAILURE_LIMIT failures, whatever usernames it tried (one
# address guessing 40 usernames is stopped at the fifth), which also covers one username from
# one address. Not a username from every address: anyone could then lock a shopper out.
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "shop.security.client_ip"
AXES_USERNAME_CALLABLE = "shop.security.axes_username"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# django-ratelimit: https://django-ratelimit.readthedocs.io/en/stable/settings.html
# Searches per client address (the only public view that costs PostgreSQL real work per query).
SEARCH_RATE_LIMIT = env("SEARCH_RATE_LIMIT", default="60/m")
# Sign-ups (POSTs) per client address: each creates a row and sends mail.
SIGNUP_RATE_LIMIT = env("SIGNUP_RATE_LIMIT", default="10/h")
# Days after which a sign-up never confirmed is deleted (hourly, shop.tasks), counted from the
# last sign-up with its address. Keep it longer than a link is valid (PASSWORD_RESET_TIMEOUT,
# 3 days), so that no live link ever names a deleted account.
SIGNUP_CONFIRM_DAYS = env.int("SIGNUP_CONFIRM_DAYS", default=7)
# Password reset requests (POSTs), per client address and, separately, per email address
# asked for: each may send mail.
PASSWORD_RESET_RATE_LIMIT = env("PASSWORD_RESET_RATE_LIMIT", default="10/h")
RATELIMIT_USE_CACHE = "ratelimit"
# With the cache Redis unavailable the counts are unknown: serve the search (see security.py).
RATELIMIT_FAIL_OPEN = True
RATELIMIT_VIEW = "shop.security.rate_limited"
# /metrics and the detailed /healthz: a request with `Authorization: Bearer <OPS_TOKEN>`
# (empty: no token opens them) or from one of OPS_ALLOWED_ADDRESSES (the client address as
# client_ip() finds it, so nginx's own address opens nothing). /livez is public.
OPS_TOKEN = env("OPS_TOKEN", default="")
OPS_ALLOWED_ADDRESSES = env.list("OPS_ALLOWED_ADDRESSES", default=["127.0.0.1", "::1"])
# Seconds between the worker's heartbeats (beat writes its own at every tick, at least this
# often); shop/heartbeats.py.
CELERY_HEARTBEAT_INTERVAL = env.float("CELERY_HEARTBEAT_INTERVAL", default=15.0)
# A worker or beat heartbeat older than this many seconds makes /healthz "degraded" (the alerts,
# too, wait 60 s: four missed heartbeats, not one slow one).
CELERY_HEARTBEAT_MAX_AGE = env.int("CELERY_HEARTBEAT_MAX_AGE", default=60)
SILENCED_SYSTEM_CHECKS = [
    # "cache backend ... is not officially supported": ShelfRateLimitCache is ours, on purpose.
    "django_ratelimit.W001",
]

# CONTENT SECURITY POLICY (django-csp)
# https://django-csp.readthedocs.io/en/latest/configuration.html
# ------------------------------------------------------------------------------
# The same policy in every environment, so the browser tests check the one production sends.
# Scripts only from our own static files (no inline script anywhere, the admin's included).
# Inline styles are allowed: the rating stars' `style="--rating: 4.5"`, htmx's indicator
# style and the admin's templates use them; an injected style can restyle a page but run
# nothing. Shared pages are rendered once for everyone, so a per-response nonce would need
# a visitor slot in every tag; not worth it for styles.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# CHECKOUT AND ORDERS
# ------------------------------------------------------------------------------
# Dotted path of the payment provider class (orders/payments.py). The built-in one accepts test
# card numbers only and moves no money.
PAYMENT_PROVIDER = env("PAYMENT_PROVIDER", default="orders.payments.TestCardProvider")
# Seconds an order may stay reserved but unpaid (a process died between reserving the stock
# and confirming the order) before the sweep settles it. Far longer than any charge may take:
# a charge still running when the sweep releases its stock is recorded but not an order.
ORDER_RESERVATION_TIMEOUT = env.int("ORDER_RESERVATION_TIMEOUT", default=900)
# Flat shipping fee added to every order.
ORDER_SHIPPING_FEE = Decimal(env("ORDER_SHIPPING_FEE", default="4.95"))
# Sender of order confirmations.
# https://docs.djangoproject.com/en/5.2/ref/settings/#default-from-email
DEFAULT_FROM_EMAIL = env("DJANGO_DEFAULT_FROM_EMAIL", default="Shelf <orders@shelf.example>")

# APPS
# ------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
    # Shipping, returns, privacy, contact and about pages, edited in the admin (shop/urls.py).
    "django.contrib.sites",
    "django.contrib.flatpages",
    "django.contrib.postgres",
    "axes",
    "django_ratelimit",
    "csp",
    "imagekit",
    # Bottom floor first: the caching toolkit, then the domain apps, then the site shell
    # (see the README's "Architecture").
    "shelf",
    "inventory",
    "catalog",
    "search",
    "cart",
    "orders",
    "shop",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # django-csp's, with the policy built once per process (shop/middleware.py).
    "shop.middleware.PolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "shop.middleware.RequestMetricsMiddleware",
    "shelf.middleware.ShelfMiddleware",
    # Above the session and CSRF middleware: it sees the cookies they set (shop/middleware.py).
    "shop.middleware.CacheControlMiddleware",
    # Below it, above the session and CSRF middleware: marks the pages an edge cache may keep.
    "shelf.edge.EdgeMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Lets the session store record the product a page shows with its one read (shop/visitor.py).
    "shop.visitor.VisitorMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The admin and the password pages get the user from PostgreSQL (shop/auth.py).
    "shop.auth.DatabaseUserMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_ratelimit.middleware.RatelimitMiddleware",
    # Writes the anonymous recently viewed cookie once the page's slots are filled (below).
    "shop.history.RecentCookieMiddleware",
    # Near the end, so it sees the final HTML: fills each visitor's header and CSRF slots.
    "shelf.pages.VisitorSlotsMiddleware",
    # Inside the slots middleware, so that its lockout page gets the visitor's header too.
    "axes.middleware.AxesMiddleware",
]

# A form sent without a token (from a page kept for everyone by the edge cache, by a browser
# without JavaScript) is asked again with one instead of refused (shop.views.csrf_failure).
CSRF_FAILURE_VIEW = "shop.views.csrf_failure"

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "shop.context_processors.site",
                "shop.context_processors.menu",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"

# STATIC
# ------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "shop" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# MEDIA: product pictures and their renditions (catalog/images.py)
# ------------------------------------------------------------------------------
# Every file under MEDIA_URL keeps its content for ever (new content, new name), so it is
# served with a year of `immutable` caching: by nginx from MEDIA_ROOT in the stack and in
# production (docker/nginx/shelf.conf), by the app (shop.views.media) where nothing is in front.
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / ".local" / "media")
# An upload larger than this many bytes, or with more pixels, is a form error.
CATALOG_IMAGE_MAX_BYTES = env.int("CATALOG_IMAGE_MAX_BYTES", default=5_000_000)
CATALOG_IMAGE_MAX_PIXELS = env.int("CATALOG_IMAGE_MAX_PIXELS", default=40_000_000)

# CELERY
# https://docs.celeryq.dev/en/stable/userguide/configuration.html
# ------------------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/2")
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=240)
# Acknowledge after the task ran, so a worker killed mid-task leaves it queued for another.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "catalog-popular-rank": {"task": "catalog.tasks.popular_rank", "schedule": 300.0},
    # The catalog's mean rating moves slowly; a product's own score follows its reviews at once
    # (a trigger), only the prior waits for this.
    "catalog-rating-prior": {"task": "catalog.tasks.rating_prior_refresh", "schedule": 3600.0},
    # Write-behind of carts: the sync lag is at most this interval plus the sync itself.
    "cart-sync": {"task": "cart.tasks.carts_sync", "schedule": 2.0},
    "cart-evict-idle": {"task": "cart.tasks.carts_evict_idle", "schedule": 300.0},
    # Bumps that could not reach the cache Redis (shelf/outbox.py): for the processes that
    # never lost Redis, this interval bounds how long a lost bump's entries may still be served.
    "shelf-outbox-drain": {
        "task": "shelf.tasks.shelf_outbox_drain",
        "schedule": env.float("SHELF_OUTBOX_DRAIN", default=5.0),
    },
    # Confirmations whose own task never ran (broker down at checkout, worker killed).
    "order-confirmations-sweep": {
        "task": "orders.tasks.order_confirmations_sweep",
        "schedule": 60.0,
    },
    # Reservations left unpaid by a process that died mid-checkout (ORDER_RESERVATION_TIMEOUT).
    "order-reservations-sweep": {
        "task": "orders.tasks.order_reservations_sweep",
        "schedule": 60.0,
    },
    # Fills the shelf up to SHELF_WARM_BUDGET in popularity order, skipping what is on it; it
    # stops within the task time limit and the next run goes on from there.
    "shelf-warm": {
        "task": "shelf.tasks.shelf_warm",
        "schedule": 3600.0,
        "kwargs": {"products": None, "seconds": 200.0},
    },
    # Keeps the top queries' first pages warm: their TTL is 10 minutes, so no shopper waits.
    "search-warm": {"task": "search.tasks.search_warm", "schedule": 300.0},
    # Sign-ups never confirmed within SIGNUP_CONFIRM_DAYS (shop/services.py says which stay).
    "unconfirmed-signups-sweep": {
        "task": "shop.tasks.unconfirmed_signups_sweep",
        "schedule": 3600.0,
    },
}
# Celery's default scheduler, writing beat's heartbeat at every tick (shop/heartbeats.py).
CELERY_BEAT_SCHEDULER = "shop.heartbeats:HeartbeatScheduler"

# CATALOG
# ------------------------------------------------------------------------------
# "Top rated" ranks by a Bayesian average: each product's reviews plus this many imaginary
# reviews at the catalog's mean rating (catalog.services.rating_prior_refresh).
CATALOG_RATING_PRIOR_WEIGHT = env.int("CATALOG_RATING_PRIOR_WEIGHT", default=10)

# SEARCH
# ------------------------------------------------------------------------------
# How many of the most searched queries (last 24 hours) count as popular: cached 10 minutes
# instead of 5, and warmed by the beat task and warm_cache.
SEARCH_POPULAR_QUERIES = env.int("SEARCH_POPULAR_QUERIES", default=100)
# What to warm before any query history exists (and to fill up the top list until then).
SEARCH_SEED_QUERIES = env.list(
    "SEARCH_SEED_QUERIES",
    default=[
        "laptop", "phone", "headphones", "shoes", "watch", "tablet", "monitor", "keyboard",
        "earbuds", "speaker", "smartwatch", "charger", "coffee machine", "vacuum cleaner",
        "blender", "lamp", "kettle", "coffee", "running shoes", "bike", "tent", "backpack",
        "sneakers", "boots", "jacket", "t-shirt", "board game", "puzzle", "drone", "cookbook",
        "novel", "travel guide",
    ],
)  # fmt: skip

# LOGGING
# ------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        # One JSON object a line, with the `extra` fields (namespace, seconds, breaker...).
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "structured": {"class": "logging.StreamHandler", "formatter": "json"},
    },
    "loggers": {
        # Cache errors, circuit breaker changes, slow loads and ops actions, for log shippers.
        "shelf": {"handlers": ["structured"], "level": "INFO", "propagate": False},
    },
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
}
