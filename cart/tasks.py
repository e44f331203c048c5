from celery import shared_task
from django.db import OperationalError
from redis.exceptions import RedisError

from . import services


# redis-py's errors are not the builtin ConnectionError: retry on theirs, and on PostgreSQL's.
@shared_task(autoretry_for=(RedisError, OperationalError), retry_backoff=True, max_retries=5)
def carts_sync() -> int:
    """Write dirty carts behind to PostgreSQL; re-enqueue while a full batch was synced."""
    synced = services.carts_sync_dirty()
    if synced >= services.SYNC_BATCH:
        carts_sync.delay()
    return synced


@shared_task
def carts_evict_idle() -> int:
    return services.carts_evict_idle()
