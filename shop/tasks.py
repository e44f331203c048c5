"""The site's Celery tasks: the workers' heartbeat, which /metrics exports for the alert
"Celery worker heartbeat missing" (docker/prometheus/alerts.yml)."""

import time

from celery import shared_task

from . import ops


@shared_task(ignore_result=True)
def worker_heartbeat() -> None:
    """Beat enqueues this every 15 s; the time it last ran says a worker takes tasks."""
    ops.record_worker_heartbeat(time.time())
