"""Fixtures the site shell's tests share."""

import pytest
from django_redis import get_redis_connection
from redis.connection import Connection

from shelf.tests import servers


@pytest.fixture
def state_trips(monkeypatch):
    """Round trips to the state Redis (its own database number in the tests): one packed send
    each, whether a command, a script or a pipeline."""
    state_db = get_redis_connection("state").connection_pool.connection_kwargs["db"]
    sent = []
    original = Connection.send_packed_command

    def counting(self, command, check_health=True):
        if self.db == state_db:
            sent.append(command)
        return original(self, command, check_health)

    monkeypatch.setattr(Connection, "send_packed_command", counting)
    return sent


@pytest.fixture(scope="session")
def postgres_cluster():
    """A PostgreSQL cluster of the run's own that a test may freeze (the hang tests in
    test_faults.py), started once for the session; each test loads its database into it."""
    with servers.postgres_cluster() as cluster:
        yield cluster
