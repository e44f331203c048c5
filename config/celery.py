"""The Celery application: configured from Django settings under the CELERY_ namespace."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("shelf")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# The worker writes its own heartbeat (beat's comes from CELERY_BEAT_SCHEDULER); a string, so
# the module loads when the worker starts.
app.steps["consumer"].add("shop.heartbeats:WorkerHeartbeat")
