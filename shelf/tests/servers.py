"""Throwaway servers for fault tests, each on a spare loopback port: a redis-server, a Celery
worker, a Redis Cluster, a PostgreSQL cluster that can be frozen, a gunicorn, and a TCP proxy
that can cut PostgreSQL off; and another Django process of the host for a test to drive."""

import contextlib
import http.client
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

# The project's one port and wait helpers; the tests import them from here.
from scripts.services import spare_port, wait_until


def stop_all(processes: Iterable[subprocess.Popen], grace: float = 5) -> None:
    """Terminate the processes still running, then kill any that did not stop in `grace` s."""
    processes = list(processes)
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


class RedisServer:
    """A redis-server process the test owns: it can kill, pause and resume it."""

    def __init__(self, port: int, workdir: str, password: str = "") -> None:
        self.port = port
        self.workdir = workdir
        self.password = password  # requirepass: every client must AUTH with it
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return self.url_for(0)

    def url_for(self, db: int) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.workdir,
             *(["--requirepass", self.password] if self.password else [])],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        ping = redis.Redis(port=self.port, password=self.password or None, socket_timeout=0.2).ping
        if not wait_until(ping, 10, 0.05, process=self.process, ignore=(redis.RedisError,)):
            raise RuntimeError(f"redis-server did not start on port {self.port}")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(5)

    def pause(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.resume()
            self.process.terminate()
            self.process.wait(5)


@contextmanager
def redis_server(password: str = "") -> Iterator[RedisServer]:
    """A redis-server on a spare port (with `password`: it requires it); stopped on exit."""
    workdir = tempfile.mkdtemp(prefix="shelf-redis-")
    server = RedisServer(spare_port(), workdir, password)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def celery_worker(
    database_name: str, beat: bool = False, **env_overrides: str
) -> Iterator[subprocess.Popen]:
    """A real `celery worker` on the test broker and the test database; killed on exit.

    `beat` embeds Celery beat (-B); `env_overrides` replace variables of its environment.
    """
    with _celery(
        database_name,
        ["worker", "--pool", "solo", "--loglevel", "WARNING", "--without-gossip",
         "--without-mingle", "--without-heartbeat"],
        beat,
        env_overrides,
    ) as worker:  # fmt: skip
        yield worker


@contextmanager
def celery_beat(database_name: str, **env_overrides: str) -> Iterator[subprocess.Popen]:
    """A real `celery beat` alone (no worker) on the test broker; killed on exit."""
    with _celery(database_name, ["beat", "--loglevel", "WARNING"], True, env_overrides) as beat:
        yield beat


@contextmanager
def _celery(
    database_name: str, args: list[str], beat: bool, env_overrides: dict[str, str]
) -> Iterator[subprocess.Popen]:
    from django.conf import settings

    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{database_name}",
        "TEST_REDIS_CACHE_URL": settings.REDIS_CACHE_URL,
        "TEST_REDIS_STATE_URL": settings.REDIS_STATE_URL,
        "TEST_CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        **env_overrides,
    }
    with tempfile.NamedTemporaryFile(prefix="shelf-celery-", suffix=".log") as log:
        schedule = ["--schedule", f"{log.name}.beat"]
        if beat and args[0] == "worker":
            schedule.insert(0, "-B")
        process = subprocess.Popen(
            [os.path.join(os.path.dirname(sys.executable), "celery"), "-A", "config", *args,
             *(schedule if beat else [])],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own process group: the embedded beat (-B) is a child process, which a kill of
            # the worker alone would leave running.
            start_new_session=True,
        )  # fmt: skip
        try:
            yield process
        except BaseException:
            print(f"celery {args[0]} log:\n" + Path(log.name).read_text()[-5000:])
            raise
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
            for stale in Path(log.name).parent.glob(f"{Path(log.name).name}.beat*"):
                stale.unlink(missing_ok=True)  # beat's schedule (shelve adds its own suffixes)


class DjangoProcess:
    """Another process of this host with the test settings, driven by the test: `ask(expr)`
    evaluates one Python expression there (after its set-up code) and returns the JSON result."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process

    def ask(self, expression: str, timeout: float = 30):
        self.process.stdin.write(expression.replace("\n", " ") + "\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            raise RuntimeError(f"the other process did not answer {expression!r}")
        answer = json.loads(line)
        if isinstance(answer, dict) and "error" in answer:
            raise RuntimeError(f"{expression!r} failed there: {answer['error']}")
        return answer


_DJANGO_PROCESS = """
import json, sys
import django
django.setup()
exec(sys.argv[1])
for line in sys.stdin:
    try:
        answer = eval(line)
    except Exception as exc:
        answer = {"error": repr(exc)}
    print(json.dumps(answer), flush=True)
"""


@contextmanager
def django_process(setup: str, database_name: str, **env_overrides: str) -> Iterator[DjangoProcess]:
    """A Python process with Django set up on the test database and test Redis (as a Celery
    worker gets them, `env_overrides` replacing variables), that first runs `setup`."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{database_name}",
        "TEST_REDIS_CACHE_URL": settings.REDIS_CACHE_URL,
        "TEST_REDIS_STATE_URL": settings.REDIS_STATE_URL,
        "TEST_CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        **env_overrides,
    }
    process = subprocess.Popen(
        [sys.executable, "-c", _DJANGO_PROCESS, setup],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield DjangoProcess(process)
    finally:
        process.stdin.close()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


CLUSTER_CONF = Path(__file__).resolve().parents[2] / "docker" / "redis" / "cluster.conf"


def spare_cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free too, both below 65536."""
    import random

    for _ in range(200):
        port = random.randint(20000, 30000)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10000))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port pair for a cluster node")


class RedisClusterNodes:
    """Six redis-server processes in cluster mode on spare ports: 3 masters, 3 replicas.

    Started with docker/redis/cluster.conf (the production node configuration) and a short
    cluster-node-timeout, so that a killed master's replica is promoted within seconds.
    """

    def __init__(self, workdir: str, size: int = 6, node_timeout_ms: int = 2000) -> None:
        self.workdir = workdir
        self.ports = [spare_cluster_port() for _ in range(size)]
        self.node_timeout_ms = node_timeout_ms
        self.processes: dict[int, subprocess.Popen] = {}

    @property
    def url(self) -> str:
        return "redis-cluster://" + ",".join(f"127.0.0.1:{p}" for p in self.ports) + "/0"

    def start(self) -> None:
        binary, cli = shutil.which("redis-server"), shutil.which("redis-cli")
        if binary is None or cli is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        for port in self.ports:
            directory = Path(self.workdir) / str(port)
            directory.mkdir()
            self.processes[port] = subprocess.Popen(
                [binary, str(CLUSTER_CONF), "--port", str(port), "--bind", "127.0.0.1",
                 "--dir", str(directory), "--cluster-node-timeout", str(self.node_timeout_ms),
                 "--logfile", str(directory / "redis.log")],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
        for port in self.ports:
            self._wait(lambda p=port: redis.Redis(port=p, socket_timeout=0.2).ping())
        subprocess.run(
            [cli, "--cluster", "create", *(f"127.0.0.1:{p}" for p in self.ports),
             "--cluster-replicas", "1", "--cluster-yes"],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        for port in self.ports:
            self._wait(lambda p=port: self.info(p)["cluster_state"] == "ok")
        # Every node must know every other one and its role before the test starts, and every
        # master its replica (gossip may name the replica before it says whose replica it is).
        self._wait(
            lambda: (
                len(self.masters()) == len(self.ports) // 2
                and all(len(self.nodes(p)) == len(self.ports) for p in self.ports)
                and all(self._has_replica(p, node[0]) for p, node in self.masters().items())
            )
        )

    def _has_replica(self, master_port: int, master_id: str) -> bool:
        return any(node[3] == master_id for node in self.nodes(master_port))

    def info(self, port: int) -> dict[str, str]:
        # Two arguments: redis-py leaves the reply of "CLUSTER" alone (plain text, parsed here).
        raw = redis.Redis(port=port, socket_timeout=0.5).execute_command("CLUSTER", "INFO")
        text = raw.decode() if isinstance(raw, bytes) else raw
        return dict(line.split(":", 1) for line in text.split() if ":" in line)

    def nodes(self, port: int) -> list[list[str]]:
        raw = redis.Redis(port=port, socket_timeout=0.5).execute_command("CLUSTER", "NODES")
        return [line.split() for line in raw.decode().splitlines()]

    def masters(self, asked: int | None = None) -> dict[int, list[str]]:
        """{port: node line} of the masters that the node on `asked` sees as alive."""
        asked = asked or next(p for p in self.ports if self.alive(p))
        found = {}
        for node in self.nodes(asked):
            flags = node[2].split(",")
            if "master" in flags and "fail" not in flags and "fail?" not in flags:
                found[int(node[1].split("@")[0].rsplit(":", 1)[1])] = node
        return found

    def master_of(self, key: str) -> int:
        slot = redis.Redis(port=self.ports[0]).execute_command("CLUSTER", "KEYSLOT", key)
        for port, node in self.masters().items():
            for span in node[8:]:
                low, _, high = span.partition("-")
                if low.isdigit() and int(low) <= slot <= int(high or low):
                    return port
        raise RuntimeError(f"no master owns slot {slot}")

    def replica_of(self, master_port: int) -> int:
        master_id = self.masters()[master_port][0]
        for node in self.nodes(master_port):
            if node[3] == master_id:
                return int(node[1].split("@")[0].rsplit(":", 1)[1])
        raise RuntimeError(f"the master on {master_port} has no replica")

    def alive(self, port: int) -> bool:
        return self.processes[port].poll() is None

    def kill(self, port: int) -> None:
        self.processes[port].send_signal(signal.SIGKILL)
        self.processes[port].wait(5)

    def stop(self) -> None:
        stop_all(self.processes.values())

    @staticmethod
    def _wait(check, seconds: float = 20, what: str = "the Redis Cluster") -> None:
        not_yet = (redis.RedisError, OSError, KeyError, StopIteration)
        if not wait_until(check, seconds, ignore=not_yet):
            raise RuntimeError(f"{what} did not come up in time")


@contextmanager
def redis_cluster(node_timeout_ms: int = 2000) -> Iterator[RedisClusterNodes]:
    """A fresh 6-node Redis Cluster (3 masters, 3 replicas) on loopback; stopped on exit."""
    workdir = tempfile.mkdtemp(prefix="shelf-cluster-")
    cluster = RedisClusterNodes(workdir, node_timeout_ms=node_timeout_ms)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)


STATE_CONF = Path(__file__).resolve().parents[2] / "docker" / "redis" / "state.conf"


class RedisSentinelSet:
    """A state-role master, its replica and one Sentinel watching them, on spare ports.

    The master and replica run docker/redis/state.conf; the Sentinel declares the master down
    after 1 s and fails over to the replica (quorum 1: one Sentinel is enough for a test, not
    for production, where three on separate machines keep one network split from promoting).
    """

    MASTER_NAME = "shelfstate"

    def __init__(self, workdir: str, password: str = "") -> None:
        self.workdir = Path(workdir)
        # requirepass on master and replica (masterauth: the replica, and a promoted master's
        # replicas, authenticate to their master); the Sentinel is told it with auth-pass.
        self.password = password
        self.master_port, self.replica_port, self.sentinel_port = (
            spare_port(),
            spare_port(),
            spare_port(),
        )
        self.processes: dict[str, subprocess.Popen] = {}

    @property
    def sentinels(self) -> list[str]:
        return [f"127.0.0.1:{self.sentinel_port}"]

    @property
    def url(self) -> str:
        """The state URL in Sentinel form: the master's name instead of a host."""
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}{self.MASTER_NAME}/0"

    def _start(self, name: str, args: list[str]) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        directory = self.workdir / name
        directory.mkdir(exist_ok=True)
        self.processes[name] = subprocess.Popen(
            [binary, *args, "--bind", "127.0.0.1", "--dir", str(directory),
             "--logfile", str(directory / "redis.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def start(self) -> None:
        # Copies: on a failover the Sentinel has the promoted server rewrite its config file.
        conf = self.workdir / "state.conf"
        shutil.copyfile(STATE_CONF, conf)
        shutil.copyfile(STATE_CONF, self.workdir / "state-replica.conf")
        auth = ["--requirepass", self.password, "--masterauth", self.password]
        auth = auth if self.password else []
        # No wait for more replicas before the first sync (diskless sync waits 5 s by default;
        # production's configuration is unchanged, and no test is about that wait).
        self._start("master", [str(conf), "--port", str(self.master_port), *auth,
                               "--repl-diskless-sync-delay", "0"])  # fmt: skip
        self._start("replica", [str(self.workdir / "state-replica.conf"),
                                "--port", str(self.replica_port), *auth,
                                "--replicaof", "127.0.0.1", str(self.master_port)])  # fmt: skip
        password = self.password or None
        replica = redis.Redis(port=self.replica_port, password=password, socket_timeout=0.5)
        # The Sentinel learns of replicas from the master's INFO, which it asks for as it
        # starts and then every 10 s: started before the replica is linked, it took 10 s more
        # to know it (each of the run's three sets took 10.2 s to start; now about 1 s).
        RedisClusterNodes._wait(
            lambda: replica.info("replication").get("master_link_status") == "up",
            what="the state replica",
        )
        conf = self.workdir / "sentinel.conf"  # rewritten by the Sentinel as it learns
        conf.write_text(
            f"sentinel monitor {self.MASTER_NAME} 127.0.0.1 {self.master_port} 1\n"
            f"sentinel down-after-milliseconds {self.MASTER_NAME} 1000\n"
            f"sentinel failover-timeout {self.MASTER_NAME} 5000\n"
            + (f"sentinel auth-pass {self.MASTER_NAME} {self.password}\n" if self.password else "")
        )
        self._start("sentinel", [str(conf), "--sentinel", "--port", str(self.sentinel_port)])
        sentinel = redis.Redis(port=self.sentinel_port, socket_timeout=0.5)
        # The Sentinel must know the replica before it can promote it.
        RedisClusterNodes._wait(
            lambda: len(sentinel.execute_command("SENTINEL", "REPLICAS", self.MASTER_NAME)) == 1,
            what="the Sentinel",
        )

    def master_port_now(self) -> int | None:
        """The master's port as a client is told it, once that server acts as the master.

        None while the Sentinel names no usable master or the one it names is still a replica
        (the moments of a failover when clients get MasterNotFoundError or a read-only reply).
        """
        from redis.sentinel import MasterNotFoundError, Sentinel

        sentinel = Sentinel([("127.0.0.1", self.sentinel_port)], socket_timeout=0.5)
        try:
            _, port = sentinel.discover_master(self.MASTER_NAME)
            server = redis.Redis(port=port, password=self.password or None, socket_timeout=0.5)
            role = server.info("replication")["role"]
        except (MasterNotFoundError, redis.RedisError):
            return None
        return int(port) if role == "master" else None

    def kill_master(self) -> None:
        self.processes["master"].send_signal(signal.SIGKILL)
        self.processes["master"].wait(5)

    def stop(self) -> None:
        stop_all(self.processes.values())


@contextmanager
def redis_sentinel_set(password: str = "") -> Iterator[RedisSentinelSet]:
    """A master, a replica and a Sentinel on loopback, with the state configuration (and
    `password` required by master and replica); stopped on exit."""
    workdir = tempfile.mkdtemp(prefix="shelf-sentinel-")
    servers = RedisSentinelSet(workdir, password)
    try:
        servers.start()
        yield servers
    finally:
        servers.stop()
        shutil.rmtree(workdir, ignore_errors=True)


class TcpProxy:
    """A TCP relay on a spare loopback port that a test can cut and restore.

    Cutting closes every relayed connection and stops listening, so a client's next connect is
    refused, as when the server behind it goes away; restoring listens on the same port again.
    Freezing keeps every connection open and accepts new ones but relays no byte until thawed:
    to the client that is a hung server (its kernel accepts and acknowledges, nothing answers),
    without stopping a PostgreSQL that other tests share.
    """

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = spare_port()
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._flowing = threading.Event()
        self._flowing.set()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._conns |= {client, server}
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                self._flowing.wait()
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            with self._lock:
                self._conns -= {source, sink}

    def cut(self) -> None:
        if self._listener is not None:
            # shutdown() first: close() alone leaves the thread blocked in accept() holding the
            # socket, which then goes on accepting (and relaying) new connections.
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            conns, self._conns = list(self._conns), set()
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def restore(self) -> None:
        if self._listener is None:
            self.start()

    def freeze(self) -> None:
        self._flowing.clear()

    def thaw(self) -> None:
        self._flowing.set()


@contextmanager
def tcp_proxy(upstream_host: str, upstream_port: int) -> Iterator[TcpProxy]:
    proxy = TcpProxy(upstream_host, upstream_port)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.thaw()
        proxy.cut()


class PostgresCluster:
    """A PostgreSQL cluster of the test run's own (scripts/services.py's initdb + pg_ctl, as
    `make run` starts one), which a test can freeze: SIGSTOP of every process of the cluster,
    the postmaster and each backend and helper, is a hung server as an operator sees one (its
    kernel accepts connections and acknowledges bytes; nothing answers), without stopping the
    PostgreSQL the other tests share."""

    def __init__(self, base: Path, port: int) -> None:
        from scripts import services

        self.server = services.Server(
            kind="postgres", host="127.0.0.1", port=port, variables=["the tests' own"]
        )
        self.bindir = services.pg_bindir(self.server)
        self.base = base
        self.data = base / "data"

    @property
    def port(self) -> int:
        return self.server.port

    def start(self) -> None:
        from scripts import services

        services.postgres_start(self.server, self.base)

    def stop(self) -> None:
        from scripts import services

        self.resume()
        services.postgres_stop(self.data, self.bindir, f"of the tests on port {self.port}")

    def load(self, database_name: str) -> None:
        """Make `database_name` here a copy of the test server's database of that name (its
        schema and the rows the test committed): pg_dump and pg_restore, about 0.35 s, where
        `migrate` alone takes 1.6 s."""
        from django.conf import settings

        db = settings.DATABASES["default"]
        dump = self.base / f"{database_name}.dump"
        subprocess.run(
            [str(self.bindir / "pg_dump"), "--host", db["HOST"], "--port", str(db["PORT"]),
             "--username", db["USER"], "--format", "custom", "--file", str(dump),
             database_name],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        here = ["--host", "127.0.0.1", "--port", str(self.port), "--username", db["USER"]]
        for sql in (f'DROP DATABASE IF EXISTS "{database_name}" WITH (FORCE)',
                    f'CREATE DATABASE "{database_name}"'):  # fmt: skip
            subprocess.run(
                [str(self.bindir / "psql"), *here, "--dbname", "postgres", "--quiet",
                 "--no-psqlrc", "--set", "ON_ERROR_STOP=1", "--command", sql],
                check=True, capture_output=True, timeout=60,
            )  # fmt: skip
        subprocess.run(
            [str(self.bindir / "pg_restore"), *here, "--dbname", database_name, "--no-owner",
             "--single-transaction", "--exit-on-error", str(dump)],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        dump.unlink()

    def pids(self) -> list[int]:
        """The postmaster's pid, then those of its children (every backend and helper)."""
        try:
            postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        except FileNotFoundError:
            return []  # not running
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                if int(stat.read_text().rpartition(")")[2].split()[1]) == postmaster:
                    children.append(int(stat.parent.name))
        return [postmaster, *children]

    def pause(self) -> None:
        """SIGSTOP the postmaster first (so that it forks no more backends), then, once it
        has stopped, each of its children."""
        postmaster, *_ = self.pids()
        os.kill(postmaster, signal.SIGSTOP)
        state = Path(f"/proc/{postmaster}/stat")
        if not wait_until(lambda: state.read_text().rpartition(")")[2].split()[0] == "T", 5, 0.01):
            raise RuntimeError("the postmaster did not stop")
        for pid in self.pids()[1:]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)

    def resume(self) -> None:
        for pid in reversed(self.pids()):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


@contextmanager
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster on a spare port, in a folder of its own under the temporary
    folder (the `postgres` user must reach it when we are root; pytest's are private); stopped
    and removed on exit."""
    base = Path(tempfile.mkdtemp(prefix="shelf-postgres-"))
    base.chmod(0o755)
    cluster = PostgresCluster(base, spare_port())
    try:
        cluster.start()
        yield cluster
    finally:
        try:
            cluster.stop()
        finally:
            shutil.rmtree(base, ignore_errors=True)


def database_url_for(database_name: str, host: str | None = None, port: int | None = None) -> str:
    """A DATABASE_URL for the test database (optionally through another host:port)."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{host or db['HOST']}:{port or db['PORT']}/{database_name}"


class Served:
    """A server process a test started, listening on 127.0.0.1:`port`, writing to `log`."""

    def __init__(self, process: subprocess.Popen, port: int, log: Path) -> None:
        self.process = process
        self.port = port
        self.log = log

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def serving(
    server: Served, name: str, ready: Callable[[], bool], stop: Callable[[], None] | None = None
) -> Iterator[Served]:
    """Wait up to 30 s for `ready`, yield `server`, stop its process on exit (SIGTERM, or
    `stop`); its log's end is printed if it did not start or the test failed."""
    try:
        if not wait_until(ready, 30, 0.1, server.process):
            raise RuntimeError(f"{name} did not start:\n" + server.log_text()[-3000:])
        yield server
    except BaseException:
        print(f"{name} log:\n" + server.log_text()[-5000:])
        raise
    finally:
        if stop is None:
            stop_all([server.process], grace=10)
        else:
            stop()


class Gunicorn(Served):
    """A real gunicorn (config/gunicorn.py) with the test settings, on a spare port."""

    def workers_booted(self) -> int:
        return self.log_text().count("Booting worker")

    def get(self, path: str, timeout: float = 5.0, headers: dict | None = None):
        """(status, body, seconds) of one GET; status 0 when no HTTP answer came."""
        request = urllib.request.Request(self.url + path, headers=headers or {})
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read().decode(), time.monotonic() - started
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace"), time.monotonic() - started
        except (OSError, http.client.HTTPException):
            return 0, "", time.monotonic() - started


@contextmanager
def gunicorn_server(database_url: str, **env_overrides: str) -> Iterator[Gunicorn]:
    """Start gunicorn with 2 workers against the test database and test Redis databases.

    `env_overrides` replace variables (e.g. TEST_REDIS_CACHE_URL for a Redis of the test's
    own, PROMETHEUS_MULTIPROC_DIR for /metrics across workers, which is unset otherwise).
    Stopped on exit; its log is printed if the test fails.
    """
    from django.conf import settings

    port = spare_port()
    inherited = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env = {
        **inherited,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url,
        "TEST_REDIS_CACHE_URL": settings.REDIS_CACHE_URL,
        "TEST_REDIS_STATE_URL": settings.REDIS_STATE_URL,
        "TEST_CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "WEB_CONCURRENCY": "2",
        # Load from one address: the search rate limit is tested on its own (test_security).
        "SEARCH_RATE_LIMIT": "100000/m",
        "GUNICORN_ACCESS_LOG": "/dev/null",
        "PYTHONUNBUFFERED": "1",
        **env_overrides,
    }
    root = Path(__file__).resolve().parents[2]
    with (
        tempfile.TemporaryDirectory(prefix="shelf-gunicorn-") as workdir,
        (Path(workdir) / "gunicorn.log").open("wb") as out,
    ):
        log = Path(out.name)
        # Its own control socket: gunicorn's default path in $HOME is shared with every other
        # gunicorn of this user, a running shop's included.
        process = subprocess.Popen(
            [os.path.join(os.path.dirname(sys.executable), "gunicorn"), "--config",
             "config/gunicorn.py", "--bind", f"127.0.0.1:{port}",
             "--control-socket", str(Path(workdir) / "gunicorn.ctl")],
            cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
            # A process group of its own, killed at once on exit; not a session of its own:
            # with the kernel's autogroup scheduling that would be a CPU share of its own
            # against the test's load threads (a cache-Redis hang then saw 1.4 s requests).
            process_group=0,
        )  # fmt: skip
        server = Gunicorn(process, port, log)

        def kill() -> None:
            # SIGKILL to the master and its workers: a stop (SIGTERM, or gunicorn's quick
            # SIGQUIT) took 0.8-0.9 s, the workers' Python shutting down, and nothing a test
            # checks happens then; the suite starts gunicorn 15 times.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)

        def ready() -> bool:
            return server.get("/healthz", timeout=2)[0] == 200

        with serving(server, "gunicorn", ready, stop=kill):
            yield server


def hammer(
    server: Gunicorn, paths: list[str], seconds: float, threads: int = 4, events=()
) -> list[tuple[float, str, int, float]]:
    """GET `paths` round robin from `threads` threads for `seconds`; return every
    (start offset, path, status, seconds). `events` are (offset, callable) run on time."""
    results: list[tuple[float, str, int, float]] = []
    lock = threading.Lock()
    started = time.monotonic()
    stop = started + seconds

    def loop(n: int) -> None:
        i = n
        while time.monotonic() < stop:
            path = paths[i % len(paths)]
            i += 1
            offset = time.monotonic() - started
            status, _, took = server.get(path)
            with lock:
                results.append((offset, path, status, took))

    workers = [threading.Thread(target=loop, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for at, action in sorted(events, key=lambda e: e[0]):
        time.sleep(max(0.0, started + at - time.monotonic()))
        action()
    for w in workers:
        w.join(seconds + 30)
    return results


def varnishd_path() -> str:
    """The varnishd to test the edge cache with; skips the test (fails it under CI=true) when
    there is none or it lacks the xkey module (scripts/varnish.sh installs both in make test)."""
    import glob

    import pytest

    found = shutil.which("varnishd") or shutil.which("varnishd", path="/usr/sbin:/sbin")
    missing = os.environ.get("SHELF_VARNISH_SKIP") or (
        None if found and glob.glob("/usr/lib/*/varnish/vmods/libvmod_xkey.so") else
        "no varnishd with vmod_xkey: install Debian's varnish and varnish-modules (as root)"
    )  # fmt: skip
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI runs the edge-cache tests, but {missing}", pytrace=False)
        pytest.skip(f"edge-cache tests skipped: {missing}")
    return found


class Varnish(Served):
    """A real varnishd with docker/varnish/shelf.vcl in front of local app servers."""


@contextmanager
def varnish_server(backend_ports: list[int], port: int | None = None) -> Iterator[Varnish]:
    """Start varnishd (docker/varnish/shelf.vcl, rendered for `backend_ports`) on `port` (a
    spare one by default)."""
    from scripts.stack import varnish_command

    varnishd = varnishd_path()
    port = port or spare_port()
    with tempfile.TemporaryDirectory(prefix="shelf-varnish-") as workdir:
        log = Path(workdir) / "varnishd.log"
        command = varnish_command(varnishd, Path(workdir), port, backend_ports, memory="64m")
        with log.open("wb") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        with serving(Varnish(process, port, log), "varnishd", lambda: _answers(port)) as server:
            yield server


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False
