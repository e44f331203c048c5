from celery import shared_task

from . import services, warming


# OSError covers SMTP and socket trouble, which a later attempt may not meet.
@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_order_confirmation(order_id: int) -> bool:
    """Email an order's confirmation (once: a second run sends nothing)."""
    return services.order_confirmation_send(order_id)


@shared_task
def shelf_warm(products: int = 200) -> dict:
    """Warm the shelf now (the dashboard's "Warm now"): the same plan as `warm_cache`."""
    return warming.shelf_warm(warming.warm_plan(products))
