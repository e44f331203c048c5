from celery import shared_task

from shelf.tasks import also_named

from . import services

# The `also_named` registrations keep the names these tasks had in the shop app, for messages
# queued before the upgrade (remove them in the next release).


# OSError covers SMTP and socket trouble, which a later attempt may not meet.
@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
@also_named(
    "shop.tasks.send_order_confirmation",
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
def send_order_confirmation(order_id: int) -> bool:
    """Email an order's confirmation (once: a second run sends nothing)."""
    return services.order_confirmation_send(order_id)


@shared_task
@also_named("shop.tasks.order_confirmations_sweep")
def order_confirmations_sweep() -> int:
    """Send the confirmations whose own task never ran (broker down at checkout, worker lost)."""
    return services.order_confirmations_send_due()


@shared_task
def order_reservations_sweep() -> dict[str, int]:
    """Confirm or release the orders a dead process left reserved but unconfirmed."""
    return services.order_reservations_settle()
