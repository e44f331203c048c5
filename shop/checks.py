"""Deployment checks (`manage.py check --deploy`): every server the shop talks to asks for
credentials. A Redis without a password lets anyone who reaches it rewrite the shelf, read
sessions or queue tasks; the cache role holds no authority (shop/cache.py), but the state
role's sessions and the broker's tasks do."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Tags, Warning, register


def _has_credentials(url: str) -> bool:
    return bool(urlsplit(url).password)


@register(Tags.security, deploy=True)
def servers_require_credentials(app_configs, **kwargs) -> list[Warning]:
    """Warn for each of PostgreSQL and the three Redis roles reached without a password."""
    found = []
    if not settings.DATABASES["default"].get("PASSWORD"):
        found.append(("DATABASE_URL", "PostgreSQL"))
    for name in ("REDIS_CACHE_URL", "REDIS_STATE_URL", "CELERY_BROKER_URL"):
        if not _has_credentials(getattr(settings, name)):
            found.append((name, "Redis"))
    return [
        Warning(
            f"{name} has no password: anyone who can reach that {server} can use it.",
            hint=f"Set a password in {name} (redis://user:password@host/db for a Redis ACL "
            "user, redis://:password@host/db for requirepass).",
            id="shop.W001",
        )
        for name, server in found
    ]
