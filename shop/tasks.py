"""The site's Celery tasks."""

from celery import shared_task

from . import heartbeats, services


@shared_task(ignore_result=True)
def worker_heartbeat() -> None:
    """For one release only: an older beat still sends it. The worker writes its heartbeat
    itself now (shop/heartbeats.py), and beat no longer schedules this."""
    heartbeats.record(heartbeats.WORKER_KEY)


# OSError covers SMTP and socket trouble, which a later attempt may not meet (as for order
# confirmations).
@shared_task(ignore_result=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_password_reset(user_id: int, domain: str, use_https: bool) -> bool:
    """Email a password reset link (shop.services.password_reset_request)."""
    return services.password_reset_send(user_id, domain, use_https)


@shared_task(ignore_result=True)
def unconfirmed_signups_sweep() -> int:
    """Beat runs this hourly: sign-ups never confirmed within SIGNUP_CONFIRM_DAYS go."""
    return services.unconfirmed_signups_remove()
