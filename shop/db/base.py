"""Django's PostgreSQL backend with a deadline on every wait, and a breaker for a hung server.

A frozen PostgreSQL (a stopped process, a hung disk, a network path that drops packets) still
has a kernel that accepts connections and acknowledges bytes, so neither the server's own
`statement_timeout` nor TCP keepalives ever fire, and libpq waits for the reply forever. Two
things bound what such a server costs a web request:

- The read deadline (DATABASE_READ_TIMEOUT): every wait for PostgreSQL during a request,
  including Django's health check of a reused connection and commits, is given up after that
  many seconds, through the `timeout` of psycopg's own wait loop. The connection is then in an
  unknown state, so it is closed; the request gets OperationalError, i.e. the 503 page.
  Management commands and Celery tasks get no read deadline (a migration may legitimately run
  for minutes); `statement_timeout` and the TCP settings in config/settings/base.py bound them.
- The breaker (DATABASE_BREAKER_RESET): after a connect or a read that failed, every new
  connection in this process, and in every other process of the host (shop/breaker.py), fails
  at once for that many seconds, so a hung server costs the host one timeout per interval
  instead of one per request and worker; then one connect tries again. In a web request that
  connect runs in a thread of the process's own, and the request waits for it only as long as
  its read deadline (DATABASE_CONNECT_TIMEOUT, at least 2 s, psycopg's and libpq's minimum,
  would otherwise be the bound): a server that is back (or a breaker that some earlier process
  left open) costs a quick probe, a hung one the 503 page within the deadline. Outside requests
  (Celery, commands) the caller probes itself.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from typing import Any

import psycopg
from django.conf import settings
from django.db.backends.postgresql import base

from ..breaker import Breaker

logger = logging.getLogger("shelf")

# Seconds a wait for PostgreSQL may take in this context; None: unbounded (outside requests).
_read_deadline: ContextVar[float | None] = ContextVar("database_read_deadline", default=None)


def _server() -> tuple:
    """The server (not the database: a hung server hangs every database on it)."""
    db = settings.DATABASES["default"]
    return (db["HOST"], db["PORT"])


breaker = Breaker("database", lambda: settings.DATABASE_BREAKER_RESET, _server)
# The probes of web requests, one at a time (held while one runs: a probe waiting out a hung
# server's connect timeout outlasts the breaker's interval). Its thread starts at the first
# probe, never before a fork.
_prober = ThreadPoolExecutor(max_workers=1, thread_name_prefix="database-probe")
_probing = threading.Lock()


def request_started(**kwargs: Any) -> None:
    """Bound every database wait of the request that starts (a request_started receiver)."""
    _read_deadline.set(settings.DATABASE_READ_TIMEOUT or None)


def request_finished(**kwargs: Any) -> None:
    """Lift the bound after the request (Django's own end-of-request check runs before this),
    so that code run later in the same thread (a test, a shell) keeps unbounded waits."""
    _read_deadline.set(None)


@contextmanager
def read_deadline(seconds: float) -> Iterator[None]:
    """Bound the database waits inside the block to `seconds` (health checks use less)."""
    token = _read_deadline.set(seconds)
    try:
        yield
    finally:
        _read_deadline.reset(token)


def _bounded_wait(connection: psycopg.Connection, wait, gen, *args: Any, **kwargs: Any):
    """psycopg's Connection.wait with the context's read deadline as its timeout."""
    deadline = _read_deadline.get()
    if deadline is None or kwargs.get("timeout") is not None:
        return wait(gen, *args, **kwargs)
    started = time.monotonic()
    try:
        return wait(gen, *args, timeout=deadline, **kwargs)
    except psycopg.OperationalError as exc:
        if time.monotonic() - started < deadline:
            raise  # an answer came: refused, reset, cancelled; not a hung server
        # Half a query may be on the wire: nothing more can be read from this connection.
        breaker.failed()
        connection.close()
        raise psycopg.OperationalError(
            f"PostgreSQL did not answer within {deadline:g} s (DATABASE_READ_TIMEOUT)"
        ) from exc


def _probe(conn_params: dict[str, Any]) -> None:
    """Connect once, for the breaker's sake only (in the prober's thread: no read deadline)."""
    try:
        psycopg.connect(**conn_params).close()
    except psycopg.Error as exc:
        logger.warning("PostgreSQL probe failed: %s", exc)
        breaker.failed()
    else:
        breaker.succeeded()
    finally:
        _probing.release()


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params: dict[str, Any]) -> psycopg.Connection:
        if not breaker.is_closed():
            if not breaker.allow():
                raise psycopg.OperationalError(
                    "PostgreSQL failed moments ago; not retried for DATABASE_BREAKER_RESET seconds"
                )
            deadline = _read_deadline.get()
            if deadline is not None:  # a web request: see the module docstring
                if _probing.acquire(blocking=False):
                    with suppress(TimeoutError):
                        _prober.submit(_probe, conn_params).result(timeout=deadline)
                if not breaker.is_closed():
                    raise psycopg.OperationalError("PostgreSQL failed moments ago; probing it")
        try:
            connection = super().get_new_connection(conn_params)
        except psycopg.OperationalError:
            breaker.failed()
            raise
        breaker.succeeded()
        # An instance attribute: psycopg's cursors, commits and rollbacks all wait through it.
        connection.wait = functools.partial(_bounded_wait, connection, connection.wait)
        return connection

    def close_if_health_check_failed(self) -> None:
        # A connection kept from before a failure that some thread of the host saw gets a
        # short health check (DATABASE_RECHECK_TIMEOUT), not the read deadline: each thread
        # would otherwise wait out a deadline of its own to find the server still hung. On a
        # server that is fine (the failure was one slow query) it answers in a millisecond.
        deadline = _read_deadline.get()
        if deadline is not None and self.connection is not None and not breaker.is_closed():
            with read_deadline(min(deadline, settings.DATABASE_RECHECK_TIMEOUT)):
                return super().close_if_health_check_failed()
        return super().close_if_health_check_failed()
