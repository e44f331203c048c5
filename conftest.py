"""Fixtures every app's tests share: clean test Redis databases around each test, and the
Redis topologies a test may also run on (`@pytest.mark.also_on("cluster")` or ("sentinel")),
and repetitions of race tests (`@pytest.mark.repeat(n)`)."""

import pytest
from celery.result import allow_join_result
from django.conf import settings
from django.db.backends.postgresql.operations import DatabaseOperations
from django_redis import get_redis_connection

from shelf import backend, stats
from shop import security, state
from shop.db import base as db

# Fixtures for the topologies: on_cluster (cache role) and on_sentinel (state role).
pytest_plugins = ["shelf.tests.clustering", "shop.tests.sentinels"]

TOPOLOGY_FIXTURES = {"cluster": "on_cluster", "sentinel": "on_sentinel"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "also_on(*topologies): run the test again with the cache role on a Redis Cluster "
        "('cluster') or the state role behind Redis Sentinel ('sentinel'); those runs are slow",
    )
    config.addinivalue_line(
        "markers",
        "repeat(n): run a race test n times in all, each a fresh test; the repetitions are slow",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Add the runs that also_on() and repeat() ask for; only the first run is not slow.

    A repeated test repeats on the test servers; each other topology runs it once.
    """
    also_on = metafunc.definition.get_closest_marker("also_on")
    repeat = metafunc.definition.get_closest_marker("repeat")
    if also_on is None and repeat is None:
        return
    topologies = also_on.args if also_on else ()
    unknown = set(topologies) - set(TOPOLOGY_FIXTURES)
    assert not unknown, f"also_on: unknown topologies {unknown}"
    extra = [("server", i) for i in range(1, repeat.args[0] if repeat else 1)]
    extra += [(topology, 0) for topology in topologies]
    runs = [("server", 0), *(pytest.param(*run, marks=pytest.mark.slow) for run in extra)]
    metafunc.parametrize(("redis_topology", "repetition"), runs, indirect=True)


# Rows that post_migrate writes again, the same, after every flush: kept, so that it finds them.
_KEPT_BY_FLUSH = frozenset({"django_content_type", "auth_permission"})


def _sql_flush_by_delete(self, style, tables, *, reset_sequences=False, allow_cascade=False):
    """Empty the tables with DELETE instead of one TRUNCATE, after each transactional test.

    A TRUNCATE gives every table and index a new file: about 0.2-0.6 s here for the few
    rows a test leaves, against a few milliseconds for DELETE, and it ran after half the
    suite's tests. Every foreign key Django makes on PostgreSQL is DEFERRABLE INITIALLY
    DEFERRED and the flush runs in one transaction, so the order of the DELETEs does not
    matter. The content types and permissions stay: post_migrate, which the flush sends,
    would only write the same rows again. A flush that resets sequences is left to TRUNCATE.
    """
    if reset_sequences or not tables:
        return _sql_flush(self, style, tables, reset_sequences=reset_sequences,
                          allow_cascade=allow_cascade)  # fmt: skip
    return [
        f"{style.SQL_KEYWORD('DELETE FROM')} {style.SQL_FIELD(self.quote_name(table))};"
        for table in tables
        if table not in _KEPT_BY_FLUSH
    ]


_sql_flush = DatabaseOperations.sql_flush
DatabaseOperations.sql_flush = _sql_flush_by_delete


@pytest.fixture(autouse=True)
def _clean_redis():
    """Empty the test Redis databases: the cache survives the database rollback between tests.

    Test settings point every role at its own database number, so FLUSHDB here never touches
    a running shop's data. Reset the circuit breakers (shared with this checkout's other
    processes) and the per-process counters too (the state's breaker first, or the flush
    below would be refused after a test that broke it).
    """
    state.breaker.reset()
    db.breaker.reset()
    for alias, conf in settings.CACHES.items():
        if conf["BACKEND"].startswith("django_redis."):
            get_redis_connection(alias).flushdb()
    backend.reset()
    stats.discard()  # the previous test's buffered counts must not land in the clean databases
    security._counts.discard()  # nor its rate-limit counts
    yield


@pytest.fixture(autouse=True)
def _join_allowed():
    """Let the test wait on task results, whatever an earlier test's threads left behind.

    Celery marks "inside a task, never wait on a result" in one process-wide flag, which an
    eager `delay()` sets and then puts back as it found it: two threads delaying tasks at once
    (the concurrent checkouts) can leave it set, and every later `.get()` in the process fails.
    """
    with allow_join_result():
        yield


@pytest.fixture(autouse=True)
def redis_topology(request: pytest.FixtureRequest):
    """The Redis servers this test runs on: the test servers, or a topology from also_on().

    Autouse, so that it is in place before the test's own fixtures write anything.
    """
    topology = getattr(request, "param", "server")
    if topology == "server":
        yield None
    else:
        yield request.getfixturevalue(TOPOLOGY_FIXTURES[topology])


@pytest.fixture(autouse=True)
def repetition(request: pytest.FixtureRequest) -> int:
    """Which run of a `repeat(n)` test this is (0 for every other test)."""
    return getattr(request, "param", 0)
