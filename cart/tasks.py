from celery import shared_task

from . import services


@shared_task(autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def carts_sync() -> int:
    """Write dirty carts behind to PostgreSQL; re-enqueue while a full batch was synced."""
    synced = services.carts_sync_dirty()
    if synced >= services.SYNC_BATCH:
        carts_sync.delay()
    return synced


@shared_task
def carts_evict_idle() -> int:
    return services.carts_evict_idle()
