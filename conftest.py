"""Fixtures every app's tests share: clean test Redis databases around each test."""

import pytest
from django.conf import settings
from django_redis import get_redis_connection

from shelf import backend, stats


@pytest.fixture(autouse=True)
def _clean_redis():
    """Empty the test Redis databases: the cache survives the database rollback between tests.

    Test settings point every role at its own database number, so FLUSHDB here never touches
    a running shop's data. The circuit breaker and counters are per process: reset them too.
    """
    for alias, conf in settings.CACHES.items():
        if conf["BACKEND"].startswith("django_redis."):
            get_redis_connection(alias).flushdb()
    backend.breaker.close()
    backend._recovery_due = False  # an earlier test's outage owes this one nothing
    backend.request_started()
    stats.discard()  # the previous test's buffered counts must not land in the clean databases
    yield
