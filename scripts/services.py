#!/usr/bin/env python3
"""Make sure the services Shelf talks to answer: PostgreSQL and the three Redis roles.

Used by `make run` and `make test` (run it with the project's .venv/bin/python):

    python scripts/services.py up [--record FILE] [--create-db]
    python scripts/services.py down --record FILE     # stop what that `up` started
    python scripts/services.py down --all             # stop every project-local server
    python scripts/services.py status

The four URLs come from the environment, else from a `.env` file beside manage.py, else from
the defaults in config/settings/base.py (the same order django-environ uses there):

    DATABASE_URL       postgres://postgres@127.0.0.1:5432/shelf
    REDIS_CACHE_URL    redis://127.0.0.1:6379/0   the display shelf: may evict, keeps nothing
    REDIS_STATE_URL    redis://127.0.0.1:6379/1   sessions and carts: never evicts, persists
    CELERY_BROKER_URL  redis://127.0.0.1:6379/2   Celery's queues: never evicts, persists

For each server (host:port): if something already listens there, it is used as it is. Else, if
the host is this machine, a project-local server is started from the system's binaries, with
its data, logs and pid files under `.local/` (git-ignored; SHELF_LOCAL_DIR moves it):
PostgreSQL through initdb + pg_ctl (as the `postgres` system user when we are root, since
PostgreSQL refuses to run as root), Redis through redis-server with the role's configuration
from docker/redis/<role>.conf. Else it stops and says what to install.

`up --record FILE` writes what it started to FILE, so that `down --record FILE` stops exactly
that and nothing a developer started by hand. Binaries can be pointed at with SHELF_PG_BINDIR
(a directory holding initdb and pg_ctl) and SHELF_REDIS_SERVER (the redis-server program);
SHELF_SERVICE_TIMEOUT bounds every wait (seconds, default 30).

Only the standard library is needed, except psycopg (in the venv) to check that PostgreSQL
answers and to create the database.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
REDIS_CONF_DIR = ROOT / "docker" / "redis"

# Keep in step with config/settings/base.py (scripts/tests/test_services.py checks it).
DEFAULTS = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/shelf",
    "REDIS_CACHE_URL": "redis://127.0.0.1:6379/0",
    "REDIS_STATE_URL": "redis://127.0.0.1:6379/1",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/2",
}
REDIS_ROLES = {
    "REDIS_CACHE_URL": "cache",
    "REDIS_STATE_URL": "state",
    "CELERY_BROKER_URL": "broker",
}
# When several roles share one local server it gets the strictest role's configuration:
# state and broker never evict and persist; the cache may evict and keeps nothing.
STRICTNESS = ["cache", "broker", "state"]

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
POSTGRES_SCHEMES = {"postgres", "postgresql", "pgsql", "postgis"}
REDIS_SCHEMES = {"redis", "rediss"}

INSTALL_HINT = {
    "postgres": {
        "debian": "apt-get install postgresql",
        "redhat": "dnf install postgresql-server",
        "darwin": "brew install postgresql@15",
    },
    "redis": {
        "debian": "apt-get install redis-server",
        "redhat": "dnf install redis",
        "darwin": "brew install redis",
    },
}
PLATFORM_NAME = {"debian": "Debian/Ubuntu", "redhat": "Fedora/RHEL", "darwin": "macOS, Homebrew"}


class ServiceError(Exception):
    """Something a developer has to fix; the message says what."""


def say(message: str) -> None:
    print(f"services: {message}", flush=True)


def timeout() -> float:
    return float(os.environ.get("SHELF_SERVICE_TIMEOUT", "30"))


def local_dir() -> Path:
    return Path(os.environ.get("SHELF_LOCAL_DIR", ROOT / ".local")).resolve()


# URLS
# ------------------------------------------------------------------------------------------------
def read_dotenv(path: Path) -> dict[str, str]:
    """Parse KEY=VALUE lines the way django-environ's read_env does, near enough for URLs."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, sep, value = line.partition("=")
        if not sep:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        else:
            value = re.sub(r"\s+#.*$", "", value)
        values[key.strip()] = value
    return values


def load_urls(environ: dict[str, str] | None = None, dotenv: Path | None = None) -> dict[str, str]:
    """The four URLs: environment first, then .env, then the settings' defaults."""
    environ = os.environ if environ is None else environ
    from_file = read_dotenv(ROOT / ".env" if dotenv is None else dotenv)
    return {
        name: environ.get(name) or from_file.get(name) or default
        for name, default in DEFAULTS.items()
    }


@dataclass
class Server:
    """One server to make sure of: every URL that points at the same kind, host and port."""

    kind: str  # "postgres" or "redis"
    host: str
    port: int
    variables: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)  # Redis roles served by this server
    user: str = "postgres"
    password: str = ""
    dbname: str = ""

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def label(self) -> str:
        name = "PostgreSQL" if self.kind == "postgres" else "Redis"
        what = ", ".join(self.variables)
        if self.roles:
            what += f"; role{'s' if len(self.roles) > 1 else ''} {', '.join(self.roles)}"
        return f"{name} at {self.address} ({what})"

    @property
    def is_local(self) -> bool:
        return self.host in LOCAL_HOSTS

    @property
    def redis_role(self) -> str:
        """The configuration a project-local Redis gets: the strictest of its roles."""
        return max(self.roles, key=STRICTNESS.index)


def plan(urls: dict[str, str]) -> list[Server]:
    """Group the URLs into servers, PostgreSQL first."""
    servers: dict[tuple[str, str, int], Server] = {}
    sentinels = os.environ.get("REDIS_STATE_SENTINELS") or read_dotenv(ROOT / ".env").get(
        "REDIS_STATE_SENTINELS"
    )
    for name, url in urls.items():
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if name == "REDIS_STATE_URL" and sentinels:
            say("REDIS_STATE_URL names a master of REDIS_STATE_SENTINELS; nothing to start for it")
            continue
        if name == "DATABASE_URL":
            if scheme not in POSTGRES_SCHEMES:
                say(f"DATABASE_URL is not PostgreSQL ({scheme}:); nothing to start for it")
                continue
            kind, default_port = "postgres", 5432
        else:
            if scheme not in REDIS_SCHEMES:
                say(f"{name} is not a Redis TCP URL ({scheme}:); nothing to start for it")
                continue
            kind, default_port = "redis", 6379
        host = parts.hostname or ""
        if not host:
            say(f"{name} names no TCP host (a Unix socket?); nothing to start for it")
            continue
        key = (kind, host, parts.port or default_port)
        if key not in servers:
            servers[key] = Server(kind=kind, host=host, port=key[2])
        server = servers[key]
        server.variables.append(name)
        if kind == "redis":
            server.roles.append(REDIS_ROLES[name])
            server.password = unquote(parts.password or "")
        else:
            server.user = unquote(parts.username or "") or "postgres"
            server.password = unquote(parts.password or "")
            server.dbname = unquote(parts.path.lstrip("/")) or "postgres"
    addresses = [(s.host, s.port) for s in servers.values()]
    for host, port in set(addresses):
        if addresses.count((host, port)) > 1:
            raise ServiceError(f"{host}:{port} is named both as PostgreSQL and as Redis")
    return sorted(servers.values(), key=lambda s: s.kind != "postgres")


# PROBES
# ------------------------------------------------------------------------------------------------
# The one copy of "is it up yet": bench/, scripts/stack.py and the tests' servers use these too.
def listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def spare_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now, as the kernel hands them out (for a throwaway server)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_until(
    ready: Callable[[], object],
    timeout: float,
    interval: float = 0.1,
    process: subprocess.Popen | None = None,
    ignore: tuple[type[Exception], ...] = (),
) -> bool:
    """Call `ready()` every `interval` seconds until it is true: True; False after `timeout`.

    With `process` (a Popen), False as soon as it has exited: a server that died will never
    answer, so waiting out the timeout would only delay the error. Exceptions of the types in
    `ignore` count as "not yet" (a connection refused while the server starts).
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            if ready():
                return True
        except ignore:
            pass
        if (process is not None and process.poll() is not None) or time.monotonic() > deadline:
            return False
        time.sleep(interval)


def redis_answers(server: Server) -> bool:
    """True once the server replies to PING (an authentication error is a reply too)."""
    try:
        with socket.create_connection((server.host, server.port), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            reply = sock.recv(64)
    except OSError:
        return False
    return reply.startswith((b"+", b"-"))


def postgres_connect(server: Server, dbname: str):
    import psycopg  # in the venv; imported here so that `down` and `status` need none

    return psycopg.connect(
        host=server.host,
        port=server.port,
        user=server.user,
        password=server.password or None,
        dbname=dbname,
        connect_timeout=2,
        autocommit=True,
    )


def postgres_answers(server: Server) -> bool:
    """True once PostgreSQL accepts a connection to its maintenance database."""
    import psycopg

    try:
        with postgres_connect(server, "postgres"):
            return True
    except psycopg.OperationalError as error:
        text = str(error)
        # Still starting, or nothing there yet: keep waiting. Anything else is for a human.
        transient = (
            "starting up",
            "Connection refused",
            "shutting down",
            "timeout expired",
            "recovery",
        )
        if any(word in text for word in transient):
            return False
        if "does not exist" in text and "database" in text:
            return True  # answered: there is simply no "postgres" database
        raise ServiceError(
            f"PostgreSQL at {server.address} answered with an error: {text}"
        ) from None


def answers(server: Server) -> bool:
    return postgres_answers(server) if server.kind == "postgres" else redis_answers(server)


def wait_until_answers(server: Server, log: Path | None = None) -> None:
    if not wait_until(lambda: answers(server), timeout(), interval=0.2):
        hint = f"; see {log}" if log else ""
        raise ServiceError(f"{server.label} did not answer within {timeout():.0f}s{hint}")


# BINARIES
# ------------------------------------------------------------------------------------------------
def platform() -> str:
    if sys.platform == "darwin":
        return "darwin"
    if Path("/etc/debian_version").exists():
        return "debian"
    if Path("/etc/redhat-release").exists():
        return "redhat"
    return "debian"


class MissingBinary(ServiceError):
    """No server binary to start a local server with."""

    def __init__(self, kind: str, server: Server, looked: str):
        self.kind, self.server, self.looked = kind, server, looked
        super().__init__(missing_message([self]))


def missing_message(problems: list[MissingBinary]) -> str:
    """One message for every server that cannot be started, with the one install command."""
    lines = ["nothing answers here, and there is no server program to start one with:"]
    for problem in problems:
        program = "initdb, pg_ctl and postgres" if problem.kind == "postgres" else "redis-server"
        lines.append(f"  {problem.server.label}: no {program} ({problem.looked})")
    kinds = [kind for kind in ("postgres", "redis") if any(p.kind == kind for p in problems)]
    hints = [INSTALL_HINT[kind][platform()] for kind in kinds]
    if len(hints) > 1:  # one command for both: "apt-get install postgresql redis-server"
        hints = [" ".join([hints[0], *(hint.split()[-1] for hint in hints[1:])])]
    lines.append(
        f"Install {'it' if len(problems) == 1 else 'them'} ({PLATFORM_NAME[platform()]}): "
        f"{hints[0]}"
    )
    variables = ", ".join(v for problem in problems for v in problem.server.variables)
    lines.append(f"or start the servers yourself and point {variables} at them.")
    return "\n".join(lines)


def pg_bindir(server: Server) -> Path:
    """The directory holding initdb and pg_ctl: SHELF_PG_BINDIR, PATH, /usr/lib/postgresql."""
    override = os.environ.get("SHELF_PG_BINDIR")
    if override:
        candidates = [Path(override)]
        looked = f"SHELF_PG_BINDIR={override}"
    else:
        candidates = []
        on_path = shutil.which("pg_ctl")
        if on_path:
            candidates.append(Path(on_path).resolve().parent)
        # Debian keeps the server binaries off PATH, one directory per major version.
        versions = glob.glob("/usr/lib/postgresql/*/bin")
        versions.sort(key=lambda p: [int(n) for n in re.findall(r"\d+", p)], reverse=True)
        candidates += [Path(p) for p in versions]
        looked = "looked on PATH and in /usr/lib/postgresql/*/bin"
    for directory in candidates:
        if all(os.access(directory / tool, os.X_OK) for tool in ("initdb", "pg_ctl", "postgres")):
            return directory
    raise MissingBinary("postgres", server, looked)


def redis_server_binary(server: Server) -> str:
    override = os.environ.get("SHELF_REDIS_SERVER")
    if override:
        if os.access(override, os.X_OK):
            return override
        raise MissingBinary("redis", server, f"SHELF_REDIS_SERVER={override}")
    found = shutil.which("redis-server") or next(
        (p for p in ("/usr/bin/redis-server", "/usr/sbin/redis-server") if os.access(p, os.X_OK)),
        None,
    )
    if found:
        return found
    raise MissingBinary("redis", server, "looked on PATH")


# STARTING AND STOPPING
# ------------------------------------------------------------------------------------------------
def pids_dir() -> Path:
    path = local_dir() / "pids"
    path.mkdir(parents=True, exist_ok=True)
    return path


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A daemon that exited stays a zombie until its adoptive parent reaps it: that is gone too.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def postgres_owner() -> tuple[list[str], pwd.struct_passwd | None]:
    """How to run initdb/pg_ctl: PostgreSQL refuses root, so root runs them as `postgres`."""
    if os.geteuid() != 0:
        return [], None
    try:
        account = pwd.getpwnam("postgres")
    except KeyError:
        raise ServiceError(
            "running as root, and PostgreSQL refuses to run as root: create a `postgres` system "
            "user (apt-get install postgresql does), or run as an ordinary user"
        ) from None
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", "postgres", "--"], account
    return ["su", "postgres", "-s", "/bin/sh", "-c", '"$0" "$@"'], account


def run(command: list[str], log: Path | None = None) -> None:
    result = subprocess.run(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a Ctrl-C in the terminal must not reach the servers directly
        check=False,
    )
    if result.returncode != 0:
        where = f"\n  log: {log}" if log else ""
        raise ServiceError(
            f"`{' '.join(command)}` failed ({result.returncode}):\n{result.stdout.strip()}{where}"
        )


def postgres_base(server: Server, prefix: list[str]) -> Path:
    """Where a project-local cluster lives: .local/postgres-PORT, if its owner can reach it.

    As root the cluster belongs to the `postgres` user, which cannot reach a checkout inside a
    private directory (a home directory, a mktemp folder); then it goes to /var/tmp instead.
    """
    base = local_dir() / f"postgres-{server.port}"
    if not prefix:
        return base
    local_dir().mkdir(parents=True, exist_ok=True)
    reachable = subprocess.run(
        [*prefix, "test", "-x", str(local_dir())], capture_output=True, check=False
    )
    if reachable.returncode == 0:
        return base
    digest = hashlib.sha256(str(ROOT).encode()).hexdigest()[:10]
    outside = Path("/var/tmp" if os.path.isdir("/var/tmp") else tempfile.gettempdir())
    home = outside / f"shelf-{digest}"
    home.mkdir(mode=0o755, exist_ok=True)
    os.chmod(home, 0o755)
    say(f"the postgres user cannot reach {local_dir()}: keeping the cluster in {home} instead")
    return home / f"postgres-{server.port}"


def start_postgres(server: Server) -> None:
    prefix, _ = postgres_owner()
    pidfile = pids_dir() / f"postgres-{server.port}.pid"
    postgres_start(server, postgres_base(server, prefix), pidfile)


def postgres_start(server: Server, base: Path, pidfile: Path | None = None) -> Path:
    """Start a cluster for `server` in `base`/data, made by initdb if missing; its data folder.

    `pidfile` records the cluster before it starts, so that an interrupted start can still be
    stopped (`down`); the tests' own clusters keep none. `base` must be reachable by the
    `postgres` user when we are root.
    """
    bindir = pg_bindir(server)
    prefix, account = postgres_owner()
    data = base / "data"
    log = base / "postgres.log"
    base.mkdir(parents=True, exist_ok=True)
    if account is not None:
        os.chown(base, account.pw_uid, account.pw_gid)
    version_text = subprocess.run(
        [str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=False
    ).stdout
    version = (re.findall(r"(\d+)(?:\.\d+)*", version_text) or [""])[0]
    if not (data / "PG_VERSION").exists():
        say(f"{server.label}: creating a project-local cluster in {data}")
        initdb = [str(bindir / "initdb"), "--pgdata", str(data), "--username", server.user]
        run([*prefix, *initdb, "--auth", "trust", "--encoding", "UTF8", "--locale", "C"])
    else:
        have = (data / "PG_VERSION").read_text().strip()
        if version and have != version:
            raise ServiceError(
                f"{data} was made by PostgreSQL {have}, but the binaries found are {version}; "
                f"remove {base} to start afresh"
            )
    say(f"{server.label}: starting a project-local server from {bindir} (log: {log})")
    # TCP only, on the URL's host and port; no Unix socket (its path length is limited, and the
    # system's socket directory belongs to the system's server).
    options = f"-p {server.port} -h {server.host} -k ''"
    wait = str(int(timeout()))
    pg_ctl = [str(bindir / "pg_ctl"), "--pgdata", str(data), "--log", str(log)]
    if pidfile is not None:
        pidfile.write_text(f"starting\n{data}\n{bindir}\n")
    run([*prefix, *pg_ctl, "--options", options, "--wait", "--timeout", wait, "start"], log)
    if pidfile is not None:
        pidfile.write_text(f"{read_pid(data / 'postmaster.pid')}\n{data}\n{bindir}\n")
    wait_until_answers(server, log)
    return data


def postgres_stop(data: Path, bindir: Path, where: str) -> None:
    """Stop the cluster in `data` (fast: open sessions are ended), if it runs."""
    pid = read_pid(data / "postmaster.pid")
    if pid is not None and pid_alive(pid):
        say(f"stopping the project-local PostgreSQL {where}")
        prefix, _ = postgres_owner()
        pg_ctl = [str(bindir / "pg_ctl"), "--pgdata", str(data), "--mode", "fast"]
        run([*prefix, *pg_ctl, "--wait", "--timeout", str(int(timeout())), "stop"])


def start_redis(server: Server) -> None:
    binary = redis_server_binary(server)
    role = server.redis_role
    conf = REDIS_CONF_DIR / f"{role}.conf"
    directory = local_dir() / f"redis-{server.port}"
    directory.mkdir(parents=True, exist_ok=True)
    log = directory / "redis.log"
    pidfile = pids_dir() / f"redis-{server.port}.pid"
    old = read_pid(pidfile)
    if old is None or not pid_alive(old):
        pidfile.unlink(missing_ok=True)
    # Roles that share one local port share one server, which gets the strictest role's
    # configuration (state or broker: noeviction, appendonly), never the cache's eviction.
    shared = ""
    if len(server.roles) > 1:
        shared = f" (shared by {', '.join(server.roles)}: the strictest policy wins)"
    say(
        f"{server.label}: starting a project-local redis-server with "
        f"{conf.relative_to(ROOT)}{shared} (log: {log})"
    )
    command = [binary, str(conf), "--port", str(server.port), "--bind", server.host]
    if server.password:
        command += ["--requirepass", server.password]
    command += ["--dir", str(directory), "--pidfile", str(pidfile), "--logfile", str(log)]
    # Not daemonized: its pid is known at once (an interrupted start can still be stopped), and
    # an early exit (a bad option, a port taken meanwhile) is seen. Its own session keeps a
    # Ctrl-C in the terminal away from it; it outlives this script.
    log_start = log.stat().st_size if log.exists() else 0
    with open(log, "ab") as early:  # what it says before it opens its log (a bad option)
        process = subprocess.Popen(
            [*command, "--daemonize", "no"],
            stdin=subprocess.DEVNULL,
            stdout=early,
            stderr=early,
            start_new_session=True,
        )
    pidfile.write_text(f"{process.pid}\n")
    if not wait_until(lambda: redis_answers(server), timeout(), interval=0.05, process=process):
        with open(log, "rb") as file:
            file.seek(log_start)
            tail = file.read().decode(errors="replace").strip().splitlines()[-5:]
        status = process.poll()
        why = f"exited with {status}" if status is not None else "did not answer"
        raise ServiceError(
            f"{server.label}: redis-server {why} (log: {log})"
            + "".join(f"\n  {line}" for line in tail)
        )


def process_is(pid: int, name: str) -> bool:
    """Whether pid still runs `name` (guards against a reused pid); True where unknowable."""
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.parent.exists():
        return pid_alive(pid)
    try:
        return name in cmdline.read_bytes().decode(errors="replace")
    except OSError:
        return False


def stop(entry: dict) -> None:
    pidfile = Path(entry["pidfile"])
    port = entry["port"]
    if entry["kind"] == "postgres":
        lines = pidfile.read_text().splitlines() if pidfile.exists() else []
        if len(lines) < 3:
            say(f"PostgreSQL on port {port}: no pid file, nothing to stop")
            return
        postgres_stop(Path(lines[1]), Path(lines[2]), f"on port {port}")
        pidfile.unlink(missing_ok=True)
        return
    pid = read_pid(pidfile)
    if pid is None or not pid_alive(pid) or not process_is(pid, "redis-server"):
        pidfile.unlink(missing_ok=True)
        return
    say(f"stopping the project-local Redis on port {port}")
    # SIGTERM: Redis flushes its append-only file (state, broker) and exits.
    os.kill(pid, signal.SIGTERM)
    if not wait_until(lambda: not pid_alive(pid), timeout()):
        say(f"Redis on port {port} ignored SIGTERM; killing it")
        os.kill(pid, signal.SIGKILL)
    pidfile.unlink(missing_ok=True)


# COMMANDS
# ------------------------------------------------------------------------------------------------
def ensure_database(server: Server) -> None:
    from psycopg import sql

    if server.dbname == "postgres":
        return
    with postgres_connect(server, "postgres") as connection:
        found = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [server.dbname]
        ).fetchone()
        if not found:
            say(f"creating database {server.dbname} at {server.address}")
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(server.dbname)))


def up(record: Path | None, create_db: bool) -> None:
    servers = plan(load_urls())
    to_start = []
    for server in servers:
        if listening(server.host, server.port):
            say(f"{server.label}: already listening, using it")
            continue
        if not server.is_local:
            raise ServiceError(
                f"nothing answers at {server.address} ({' / '.join(server.variables)}), and it is "
                f"not this machine, so it cannot be started here: start it, or fix the URL"
            )
        to_start.append(server)
    # Look for every binary before starting anything, so a missing one stops us early.
    problems = []
    for server in to_start:
        try:
            pg_bindir(server) if server.kind == "postgres" else redis_server_binary(server)
        except MissingBinary as problem:
            problems.append(problem)
    if problems:
        raise ServiceError(missing_message(problems))

    started: list[dict] = []

    def remember() -> None:
        if record is not None:
            record.parent.mkdir(parents=True, exist_ok=True)
            record.write_text(json.dumps(started, indent=2) + "\n")

    try:
        for server in servers:
            if server in to_start:
                # Recorded before it starts: an interrupted start is stopped like a finished one.
                pidfile = pids_dir() / f"{server.kind}-{server.port}.pid"
                started.append({"kind": server.kind, "port": server.port, "pidfile": str(pidfile)})
                remember()
                starter = start_postgres if server.kind == "postgres" else start_redis
                starter(server)
            else:
                wait_until_answers(server)
            if server.kind == "postgres" and create_db:
                ensure_database(server)
    except BaseException:
        # Leave nothing behind that no record will stop.
        for entry in reversed(started):
            try:
                stop(entry)
            except Exception as error:  # keep stopping the others
                say(f"could not stop {entry}: {error}")
        if record is not None:
            record.unlink(missing_ok=True)
        raise
    remember()
    say("all services answer")


def down(record: Path | None, everything: bool) -> None:
    if everything:
        entries = []
        for pidfile in sorted(pids_dir().glob("*.pid")):
            kind, _, port = pidfile.stem.partition("-")
            if kind in ("redis", "postgres") and port.isdigit():
                entries.append({"kind": kind, "port": int(port), "pidfile": str(pidfile)})
    else:
        if record is None or not record.exists():
            return
        entries = json.loads(record.read_text() or "[]")
    failures = 0
    for entry in reversed(entries):
        try:
            stop(entry)
        except Exception as error:
            failures += 1
            say(f"could not stop {entry['kind']} on port {entry['port']}: {error}")
    if record is not None and not failures:
        record.unlink(missing_ok=True)
    if failures:
        raise ServiceError("some servers could not be stopped; see above")


def status() -> None:
    for server in plan(load_urls()):
        pidfile = pids_dir() / f"{server.kind}-{server.port}.pid"
        local = " (project-local)" if pidfile.exists() else ""
        state = "listening" if listening(server.host, server.port) else "not listening"
        say(f"{server.label}: {state}{local}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p_up = commands.add_parser("up", help="make sure every service answers, starting local ones")
    p_up.add_argument("--record", type=Path, help="write what was started to this file")
    p_up.add_argument(
        "--create-db", action="store_true", help="create DATABASE_URL's database if missing"
    )
    p_down = commands.add_parser("down", help="stop project-local servers")
    which = p_down.add_mutually_exclusive_group(required=True)
    which.add_argument("--record", type=Path, help="stop what that `up --record` started")
    which.add_argument("--all", action="store_true", help="stop every server under .local/pids")
    commands.add_parser("status", help="say which services answer")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            up(args.record, args.create_db)
        elif args.command == "down":
            down(args.record, args.all)
        else:
            status()
    except ServiceError as error:
        print(f"services: error: {error}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("services: interrupted", file=sys.stderr, flush=True)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
