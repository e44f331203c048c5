"""scripts/services.py: the plan, the Redis role configurations, starting and stopping servers.

The tests marked slow start real project-local servers on free ports and stop them again.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from scripts import services

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "services.py"


def run_services(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# Ports and waiting
# ------------------------------------------------------------------------------------------------
def test_spare_port_is_not_listening():
    assert not services.listening("127.0.0.1", services.spare_port())


def test_wait_until_returns_once_a_port_opens():
    port = services.spare_port()
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)

    def open_later() -> None:
        time.sleep(0.3)
        listener.bind(("127.0.0.1", port))
        listener.listen()

    opener = threading.Thread(target=open_later)
    opener.start()
    try:
        started = time.monotonic()
        assert services.wait_until(lambda: services.listening("127.0.0.1", port), 10)
        assert 0.3 <= time.monotonic() - started < 5
    finally:
        opener.join()
        listener.close()


def test_wait_until_times_out_on_a_closed_port():
    port = services.spare_port()
    started = time.monotonic()
    assert not services.wait_until(lambda: services.listening("127.0.0.1", port), 0.5)
    assert 0.5 <= time.monotonic() - started < 3


def test_wait_until_stops_waiting_when_the_process_has_exited():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    started = time.monotonic()
    assert not services.wait_until(lambda: False, 30, process=process)
    assert time.monotonic() - started < 1


def test_wait_until_takes_ignored_errors_for_not_yet_and_raises_the_others():
    calls = []

    def refused_twice() -> bool:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionRefusedError
        return True

    assert services.wait_until(refused_twice, 5, interval=0.01, ignore=(OSError,))
    assert len(calls) == 3
    with pytest.raises(ValueError):
        services.wait_until(lambda: int("not a number"), 5)


# URLs and the plan
# ------------------------------------------------------------------------------------------------
def test_defaults_match_the_settings():
    base = (ROOT / "config" / "settings" / "base.py").read_text()
    for name, default in services.DEFAULTS.items():
        assert re.search(rf'env(\.db)?\("{name}", default="{re.escape(default)}"\)', base), name


def test_environment_beats_dotenv_beats_defaults(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "# a comment\n"
        "export REDIS_CACHE_URL='redis://127.0.0.1:7000/0'\n"
        'REDIS_STATE_URL="redis://127.0.0.1:7001/1"\n'
        "DATABASE_URL=postgres://postgres@127.0.0.1:7002/from_file  # trailing comment\n"
    )
    urls = services.load_urls(
        environ={"DATABASE_URL": "postgres://postgres@127.0.0.1:7003/from_env"}, dotenv=dotenv
    )
    assert urls == {
        "DATABASE_URL": "postgres://postgres@127.0.0.1:7003/from_env",
        "REDIS_CACHE_URL": "redis://127.0.0.1:7000/0",
        "REDIS_STATE_URL": "redis://127.0.0.1:7001/1",
        "CELERY_BROKER_URL": services.DEFAULTS["CELERY_BROKER_URL"],
    }


def test_default_urls_make_one_postgres_and_one_shared_redis():
    postgres, redis = services.plan(dict(services.DEFAULTS))
    assert (postgres.kind, postgres.host, postgres.port) == ("postgres", "127.0.0.1", 5432)
    assert (postgres.user, postgres.dbname) == ("postgres", "shelf")
    assert (redis.kind, redis.port) == ("redis", 6379)
    assert redis.roles == ["cache", "state", "broker"]
    # A shared local server never evicts: it gets the strictest configuration.
    assert redis.redis_role == "state"


def test_each_role_on_its_own_port_gets_its_own_configuration():
    urls = {
        "DATABASE_URL": "postgresql://shop:secret@localhost:6543/shop",
        "REDIS_CACHE_URL": "redis://127.0.0.1:7000/0",
        "REDIS_STATE_URL": "redis://127.0.0.1:7001/0",
        "CELERY_BROKER_URL": "redis://127.0.0.1:7000/2",
    }
    postgres, first, second = services.plan(urls)
    assert (postgres.user, postgres.password, postgres.dbname) == ("shop", "secret", "shop")
    assert first.roles == ["cache", "broker"] and first.redis_role == "broker"
    assert second.roles == ["state"] and second.redis_role == "state"


def test_postgres_and_redis_on_one_port_is_an_error():
    urls = dict(services.DEFAULTS, REDIS_CACHE_URL="redis://127.0.0.1:5432/0")
    with pytest.raises(services.ServiceError, match="both as PostgreSQL and as Redis"):
        services.plan(urls)


def test_a_remote_server_that_does_not_answer_is_not_started(monkeypatch):
    monkeypatch.setattr(services, "load_urls", lambda: dict(services.DEFAULTS))
    monkeypatch.setattr(services, "listening", lambda host, port: False)
    monkeypatch.setitem(services.DEFAULTS, "DATABASE_URL", "postgres://postgres@db.example/x")
    with pytest.raises(services.ServiceError, match="cannot be started here"):
        services.up(record=None, create_db=False)


# Redis role configurations
# ------------------------------------------------------------------------------------------------
def directives(role: str) -> dict[str, str]:
    text = (ROOT / "docker" / "redis" / f"{role}.conf").read_text()
    pairs = (line.split(None, 1) for line in text.splitlines() if line and line[0] != "#")
    return {key: value for key, value in pairs}


def test_redis_role_configurations():
    cache, state, broker = directives("cache"), directives("state"), directives("broker")
    assert cache["maxmemory-policy"] == "allkeys-lru"
    assert cache["maxmemory"] == "256mb"
    assert cache["appendonly"] == "no" and cache["save"] == '""'
    for role in (state, broker):
        assert role["maxmemory-policy"] == "noeviction"
        assert role["appendonly"] == "yes"
        assert role["appendfsync"] == "everysec"
    # Generic: where and how a server runs is given on its command line.
    for role in (cache, state, broker):
        assert not {"port", "bind", "dir", "daemonize", "pidfile", "logfile"} & role.keys()


# Missing binaries
# ------------------------------------------------------------------------------------------------
def test_missing_binaries_say_what_to_install(tmp_path):
    result = run_services(
        "up",
        "--record",
        str(tmp_path / "record.json"),
        env={
            "SHELF_LOCAL_DIR": str(tmp_path),
            "SHELF_PG_BINDIR": str(tmp_path / "no-postgres-here"),
            "SHELF_REDIS_SERVER": str(tmp_path / "no-redis-server-here"),
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{services.spare_port()}/shelf",
            "REDIS_CACHE_URL": f"redis://127.0.0.1:{services.spare_port()}/0",
            "REDIS_STATE_URL": f"redis://127.0.0.1:{services.spare_port()}/0",
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{services.spare_port()}/0",
        },
    )
    assert result.returncode == 1
    assert "apt-get install postgresql redis-server" in result.stderr
    assert "SHELF_PG_BINDIR=" in result.stderr and "SHELF_REDIS_SERVER=" in result.stderr
    assert not (tmp_path / "record.json").exists()
    assert not list(tmp_path.glob("pids/*.pid"))


# Real servers
# ------------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed")
def test_starts_and_stops_project_local_redis_servers(tmp_path):
    import redis

    cache_port, shared_port = services.spare_port(), services.spare_port()
    record = tmp_path / "record.json"
    env = {
        "SHELF_LOCAL_DIR": str(tmp_path),
        "DATABASE_URL": "memory://unused",
        "REDIS_CACHE_URL": f"redis://127.0.0.1:{cache_port}/0",
        "REDIS_STATE_URL": f"redis://127.0.0.1:{shared_port}/1",
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{shared_port}/2",
    }
    result = run_services("up", "--record", str(record), env=env)
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        assert len(json.loads(record.read_text())) == 2
        cache = redis.Redis(port=cache_port)
        shared = redis.Redis(port=shared_port)
        assert cache.config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-lru"}
        assert cache.config_get("appendonly") == {"appendonly": "no"}
        assert cache.config_get("maxmemory") == {"maxmemory": str(256 * 1024 * 1024)}
        # State and broker share a server: it gets the strictest role's configuration.
        assert shared.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
        assert shared.config_get("appendonly") == {"appendonly": "yes"}
        assert (tmp_path / "pids" / f"redis-{cache_port}.pid").exists()

        # A second `up` finds them listening and starts nothing.
        again = run_services("up", "--record", str(tmp_path / "again.json"), env=env)
        assert again.returncode == 0 and "starting" not in again.stdout
        assert json.loads((tmp_path / "again.json").read_text()) == []
    finally:
        stopped = run_services("down", "--record", str(record), env=env)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert not services.listening("127.0.0.1", cache_port)
    assert not services.listening("127.0.0.1", shared_port)
    assert not list(tmp_path.glob("pids/*.pid"))
    assert not record.exists()


def postgres_startable() -> bool:
    try:
        services.pg_bindir(services.Server(kind="postgres", host="127.0.0.1", port=1))
        services.postgres_owner()
    except services.ServiceError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.skipif(not postgres_startable(), reason="no PostgreSQL server binaries")
def test_starts_and_stops_a_project_local_postgres():
    import psycopg

    # As root the server runs as `postgres`, which must reach the folder (pytest's are private).
    local = Path(tempfile.mkdtemp(prefix="shelf-services-test-"))
    local.chmod(0o755)
    port = services.spare_port()
    record = local / "record.json"
    env = {
        "SHELF_LOCAL_DIR": str(local),
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{port}/shelf_bootstrap",
        # No Redis for this one: non-Redis URLs are skipped.
        **{name: "memory://unused" for name in services.REDIS_ROLES},
    }
    try:
        result = run_services("up", "--record", str(record), "--create-db", env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "creating database shelf_bootstrap" in result.stdout
        url = f"postgresql://postgres@127.0.0.1:{port}/shelf_bootstrap"
        with psycopg.connect(url, connect_timeout=5) as connection:
            assert connection.execute("SELECT current_database()").fetchone() == (
                "shelf_bootstrap",
            )
        stopped = run_services("down", "--record", str(record), env=env)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert not services.listening("127.0.0.1", port)
    finally:
        run_services("down", "--all", env=env)
        shutil.rmtree(local, ignore_errors=True)
