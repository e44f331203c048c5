"""The site's Celery tasks."""

from celery import shared_task

from . import heartbeats


@shared_task(ignore_result=True)
def worker_heartbeat() -> None:
    """For one release only: an older beat still sends it. The worker writes its heartbeat
    itself now (shop/heartbeats.py), and beat no longer schedules this."""
    heartbeats.record(heartbeats.WORKER_KEY)
