from celery import shared_task

from . import services, shelf, warming
from .shelf import outbox


# OSError covers SMTP and socket trouble, which a later attempt may not meet.
@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_order_confirmation(order_id: int) -> bool:
    """Email an order's confirmation (once: a second run sends nothing)."""
    return services.order_confirmation_send(order_id)


@shared_task
def shelf_warm(products: int = 200) -> dict:
    """Warm the shelf now (the dashboard's "Warm now"): the same plan as `warm_cache`."""
    return warming.shelf_warm(warming.warm_plan(products))


@shared_task
def order_confirmations_sweep() -> int:
    """Send the confirmations whose own task never ran (broker down at checkout, worker lost)."""
    return services.order_confirmations_send_due()


@shared_task
def shelf_outbox_drain() -> int:
    """Bump the shelf tags whose bump could not reach the cache Redis (shop/shelf/outbox.py)."""
    return outbox.drain_now()


@shared_task(ignore_result=True)
def shelf_refresh(namespace: str, parts: list, locks: dict[str, str]) -> None:
    """Reload shelf entries past their TTL while readers keep the current ones."""
    shelf.refresh(namespace, parts, locks)
