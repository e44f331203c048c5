import pytest
from django_redis import get_redis_connection


@pytest.fixture(autouse=True)
def _no_counts_from_earlier_tests(_clean_redis):
    """Start popularity at zero: the shared fixture flushes the previous test's buffered
    counters (its searches included) into the emptied cache database."""
    get_redis_connection("default").flushdb()
