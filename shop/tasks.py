"""The site's Celery tasks."""

from celery import shared_task

from . import heartbeats, services


@shared_task(ignore_result=True)
def worker_heartbeat() -> None:
    """For one release only: an older beat still sends it. The worker writes its heartbeat
    itself now (shop/heartbeats.py), and beat no longer schedules this."""
    heartbeats.record(heartbeats.WORKER_KEY)


@shared_task(ignore_result=True)
def unconfirmed_signups_sweep() -> int:
    """Beat runs this hourly: sign-ups never confirmed within SIGNUP_CONFIRM_DAYS go."""
    return services.unconfirmed_signups_remove()
