"""`make bench`: the shop with the shelf and without it, under the same shopper-like load.

    .venv/bin/python -m bench.run          # what `make bench` runs

1. Services as `make run` has them (scripts/services.py: used if they answer, else started
   here and stopped at the end): the configured PostgreSQL with its own database
   (`shelf_bench`), and by default Redis servers of the bench's own on ports 6390 (cache role,
   docker/redis/cache.conf, as in production) and 6391 (state and broker), so that Redis's
   server-wide counters (keyspace hits, memory) count the benchmark alone.
2. migrate, collectstatic, `seed_catalog --products 100000 --if-empty`; the three bench Redis
   databases are emptied; bench/prepare.py restores stock, makes the shoppers' accounts and
   sessions and writes the catalog file the shoppers draw from.
3. The production processes (Procfile): a gunicorn with SHELF_ENABLED=true and one with
   SHELF_ENABLED=false (2 gthread workers of 4 threads each, config/gunicorn.py,
   config.settings.bench), one Celery worker and Celery beat; `warm_cache` as `make run`
   does; the real login form is checked once.
4. Phases, one at a time, each a fresh headless locust run (bench/locustfile.py) with a
   warm-up that is not measured: a shelf warm-up, then ROUNDS x (shelf on, shelf off), the
   same seed for both halves of a round, then the ceiling: Django's bare view, product pages
   alone with the shelf (fresh draws, then the same requests again) and without it; then
   BENCH_CEILING_ROUNDS rounds, each in its own rotated order, of one pre-rendered page from
   Redis and, shelf on, hits of every kind of page: the 1,000 most popular product pages,
   the home page, the first page of each category, the 30 most frequent searches, and the
   product pages again with every visit signed in (bench.workload.hit_paths; each page is
   fetched once before its first phase, so all are hits); the report compares each hit phase
   with the pre-rendered phase of its own round and quotes the median of those ratios;
   last, the first round's workload again with the cache Redis's maxmemory cut to
   BENCH_PRESSURE_MB (64 MB), so that allkeys-lru evicts, and then restored.
   Around each measured window: PostgreSQL's pg_stat_database, Redis's INFO, the shelf's
   counters and the cart sync lags. Before the closing read the shop's connections to the
   bench database are ended (Probes.settle): a backend reports its statistics at exit, but
   otherwise only within a second while busy and ten once idle.
5. bench/inprocess.py (shelf on, the bench database and Redis, no HTTP): the median
   microseconds per request of each kind of hit through Django's WSGI handler (up to
   BENCH_INPROCESS_REQUESTS each, at most 6 s), and a cProfile of product-page hits (the
   functions with the most own time).
6. bench/staleness.py against the shelf-on gunicorn: BENCH_STALENESS_ROUNDS price changes
   saved as the admin does, each followed by reads until every worker shows the new price (ms
   from the commit, and any read started after the commit that still showed the old one).
7. The stack phase, once everything above is stopped: `make stack`'s topology (nginx in front
   of 3 app processes, with a second nginx in front of app process 1 alone; scripts/stack.py)
   under wrk, 3 apps against 1 in alternation (bench/stack.py, the same load test as
   `make stack-bench`), an admin save read back from every app process, and the bytes per
   shelf entry. Its ports, database and catalog are the stack's (SHELF_STACK_*). Where nginx
   or wrk cannot be had the report says the phase was skipped, and why.
8. bench/report.py writes docs/benchmarks.md, docs/benchmarks.json and docs/benchmarks.png.

Everything it starts is stopped at the end, also on Ctrl-C or an error. Settings (environment;
defaults in brackets):

    BENCH_DATABASE_URL        [DATABASE_URL's server, database shelf_bench]
    BENCH_REDIS_CACHE_URL     [redis://127.0.0.1:6390/0]   emptied at the start
    BENCH_REDIS_STATE_URL     [redis://127.0.0.1:6391/0]   emptied at the start
    BENCH_CELERY_BROKER_URL   [redis://127.0.0.1:6391/1]   emptied at the start
    BENCH_PORTS               gunicorn with, without the shelf [8201,8202]
    BENCH_PRODUCTS [100000]  BENCH_SEED [42]  BENCH_USERS (locust users) [12]
    BENCH_ACCOUNTS [200]  BENCH_SECONDS [60]  BENCH_WARMUP [10]  BENCH_ROUNDS [2]
    BENCH_SHELF_WARMUP [60]  BENCH_WARM_PRODUCTS [all the budget allows]
    BENCH_CEILING_SECONDS [25]  BENCH_CEILING_ROUNDS [3]  BENCH_CEILING_ROUND_SECONDS [10]
    BENCH_OUTPUT [docs/benchmarks]
    BENCH_PRESSURE_MB (the memory-pressure round's maxmemory; 0 skips it) [64]
    BENCH_INPROCESS_REQUESTS (per kind of hit) [3000]  BENCH_STALENESS_ROUNDS [200]
    BENCH_STACK (0 skips the stack phase) [1]  BENCH_STACK_SECONDS [10]  BENCH_STACK_ROUNDS [5]
    BENCH_STACK_CONNECTIONS (wrk's) [16]
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psycopg
import redis

from bench.workload import BENCH_PASSWORD, Catalog, hit_paths
from scripts import services

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(os.environ.get("SHELF_LOCAL_DIR", ROOT / ".local")).resolve() / "bench"
# The bench shop's own zstd dictionaries, and how many product pages they learn from.
DICTIONARIES = WORK / "dictionaries"
DICTIONARY_SAMPLES = 2000
PYTHON = str(ROOT / ".venv" / "bin" / "python")
BIN = ROOT / ".venv" / "bin"
HOST = "127.0.0.1"
# PostgreSQL reports a backend's statistics within a second while it is busy, within ten once
# it is idle, and at once when it exits; without the right to end backends, wait.
STATS_SETTLE = 11.0
LAG_KEY = "cart:sync_lag"  # cart.services.LAG_KEY
STATS_KEY = "shelf:stats:total"  # shelf.stats
PRERENDERED_KEY = "bench:prerendered"  # bench.views.PRERENDERED_KEY
PG_FIELDS = (
    "xact_commit", "xact_rollback", "tup_returned", "tup_fetched", "tup_inserted",
    "tup_updated", "tup_deleted", "blks_hit", "blks_read",
)  # fmt: skip
# The ceiling phases that send a fixed set of pages (bench.workload.hit_paths).
HIT_KINDS = {"home": "home", "category": "category", "search": "search",
             "product-hit": "product", "product-signed-in": "product"}  # fmt: skip
REDIS_FIELDS = ("keyspace_hits", "keyspace_misses", "evicted_keys", "total_commands_processed")


def say(message: str) -> None:
    print(f"bench: {message}", flush=True)


class BenchError(Exception):
    """Something went wrong that a developer has to look at; the message says what."""


def _with_path(url: str, path: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path=path))


@dataclass
class Config:
    database_url: str
    cache_url: str
    state_url: str
    broker_url: str
    ports: tuple[int, int]
    products: int
    seed: int
    users: int
    accounts: int
    seconds: int
    warmup: int
    rounds: int
    shelf_warmup: int
    warm_products: int | None
    ceiling_seconds: int
    # The pre-rendered page and the hit phases: rounds, and each phase's measured seconds.
    ceiling_rounds: int
    ceiling_round_seconds: int
    inprocess_requests: int
    staleness_rounds: int
    output: str
    # A shelf-on round with the cache Redis's maxmemory cut to this many MB (0 skips it).
    pressure_mb: int = 64
    # The stack phase (bench/stack.py through scripts/stack.py): 3 app processes against 1.
    stack: bool = True
    stack_seconds: int = 10
    stack_rounds: int = 5
    stack_connections: int = 16
    command: str = "make bench"

    @classmethod
    def from_env(cls) -> Config:
        e = os.environ.get
        configured = services.load_urls()
        ports = [int(p) for p in e("BENCH_PORTS", "8201,8202").split(",")]
        config = cls(
            database_url=e("BENCH_DATABASE_URL")
            or _with_path(configured["DATABASE_URL"], "/shelf_bench"),
            cache_url=e("BENCH_REDIS_CACHE_URL", "redis://127.0.0.1:6390/0"),
            state_url=e("BENCH_REDIS_STATE_URL", "redis://127.0.0.1:6391/0"),
            broker_url=e("BENCH_CELERY_BROKER_URL", "redis://127.0.0.1:6391/1"),
            ports=(ports[0], ports[1]),
            products=int(e("BENCH_PRODUCTS", "100000")),
            seed=int(e("BENCH_SEED", "42")),
            users=int(e("BENCH_USERS", "12")),
            accounts=int(e("BENCH_ACCOUNTS", "200")),
            seconds=int(e("BENCH_SECONDS", "60")),
            warmup=int(e("BENCH_WARMUP", "10")),
            rounds=int(e("BENCH_ROUNDS", "2")),
            shelf_warmup=int(e("BENCH_SHELF_WARMUP", "60")),
            warm_products=int(e("BENCH_WARM_PRODUCTS")) if e("BENCH_WARM_PRODUCTS") else None,
            ceiling_seconds=int(e("BENCH_CEILING_SECONDS", "25")),
            ceiling_rounds=int(e("BENCH_CEILING_ROUNDS", "3")),
            ceiling_round_seconds=int(e("BENCH_CEILING_ROUND_SECONDS", "10")),
            inprocess_requests=int(e("BENCH_INPROCESS_REQUESTS", "3000")),
            staleness_rounds=int(e("BENCH_STALENESS_ROUNDS", "200")),
            output=e("BENCH_OUTPUT", "docs/benchmarks"),
            pressure_mb=int(e("BENCH_PRESSURE_MB", "64")),
            stack=e("BENCH_STACK", "1") != "0",
            stack_seconds=int(e("BENCH_STACK_SECONDS", "10")),
            stack_rounds=int(e("BENCH_STACK_ROUNDS", "5")),
            stack_connections=int(e("BENCH_STACK_CONNECTIONS", "16")),
        )
        changed = [k for k in sorted(os.environ) if k.startswith("BENCH_")]
        if changed:
            config.command = " ".join(f"{k}={os.environ[k]}" for k in changed) + " make bench"
        if len({config.cache_url, config.state_url, config.broker_url}) < 3:
            raise BenchError("the cache, state and broker roles need three different databases")
        return config

    @property
    def dbname(self) -> str:
        return urllib.parse.unquote(urllib.parse.urlsplit(self.database_url).path.lstrip("/"))


# PROCESSES
# ------------------------------------------------------------------------------------------------
class Processes:
    """The processes this run started, each in its own session; stopped by their own ids."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: dict[str, subprocess.Popen] = {}

    def start(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            start_new_session=True,
        )  # fmt: skip
        log.close()
        self.running[name] = process
        return process

    def check(self) -> None:
        for name, process in self.running.items():
            if process.poll() is not None:
                log = self.logs / f"{name}.log"
                raise BenchError(f"{name} exited ({process.returncode}); see {log}")

    def stop(
        self, name: str, timeout: float = 15.0, signals: tuple[int, ...] = (signal.SIGTERM,)
    ) -> None:
        """Send `signals` to the process's group in turn, each given `timeout` s to end it,
        then SIGKILL."""
        process = self.running.pop(name, None)
        if process is None or process.poll() is not None:
            return
        for sig in signals:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            try:
                process.wait(timeout)
                return
            except subprocess.TimeoutExpired:
                continue
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop_all(self) -> None:
        for name in reversed(list(self.running)):
            self.stop(name)


def wait_http(port: int, path: str = "/healthz", timeout: float = 60.0) -> None:
    def ok() -> bool:
        with urllib.request.urlopen(f"http://{HOST}:{port}{path}", timeout=5) as response:
            return response.status == 200

    if not services.wait_until(ok, timeout, interval=0.3, ignore=(OSError,)):
        raise BenchError(f"nothing answered on port {port} within {timeout:.0f} s")


# MEASUREMENTS
# ------------------------------------------------------------------------------------------------
class Probes:
    """PostgreSQL's, Redis's and the shelf's own counters, read without disturbing them."""

    def __init__(self, config: Config) -> None:
        self.config = config
        # Read from the maintenance database: a query in the bench database would count itself.
        self.pg = psycopg.connect(_with_path(config.database_url, "/postgres"), autocommit=True)
        self.cache = redis.Redis.from_url(config.cache_url)
        self.state = redis.Redis.from_url(config.state_url)

    def snapshot(self) -> dict:
        row = self.pg.execute(
            f"SELECT {', '.join(PG_FIELDS)} FROM pg_stat_database WHERE datname = %s",
            [self.config.dbname],
        ).fetchone()
        info = self.cache.info()
        stats = {k.decode(): int(v) for k, v in self.cache.hgetall(STATS_KEY).items()}
        return {
            "time": time.time(),
            "pg": dict(zip(PG_FIELDS, map(int, row), strict=True)),
            "redis": {k: int(info.get(k, 0)) for k in REDIS_FIELDS},
            "redis_memory": int(info.get("used_memory", 0)),
            "shelf": stats,
            "loadavg": os.getloadavg()[0],
        }

    def settle(self) -> None:
        """Make every backend of the bench database report its statistics now.

        Ends the shop's idle connections to the bench database (backends report at exit);
        gunicorn and Celery reconnect on their next query (CONN_HEALTH_CHECKS), a few
        milliseconds in the next warm-up. Falls back to waiting when not allowed.
        """
        # Requests that were in flight or queued when locust stopped still run: let them end.
        busy = (
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND state <> 'idle' "
            "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
        deadline = time.monotonic() + STATS_SETTLE
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < 0.5 and time.monotonic() < deadline:
            if self.pg.execute(busy, [self.config.dbname]).fetchone()[0]:
                quiet_since = time.monotonic()  # between two queries a request looks idle
            time.sleep(0.05)
        sql = (
            "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
            "AND state = 'idle' AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
        try:
            pids = [pid for pid, ended in self.pg.execute(sql, [self.config.dbname]) if ended]
        except psycopg.Error:
            time.sleep(STATS_SETTLE)
            return
        deadline = time.monotonic() + STATS_SETTLE
        while pids and time.monotonic() < deadline:
            time.sleep(0.1)
            pids = [
                pid
                for (pid,) in self.pg.execute(
                    "SELECT pid FROM pg_stat_activity WHERE pid = ANY(%s)", [pids]
                )
            ]
        time.sleep(0.2)

    def lags(self) -> list[float]:
        return [float(v) for v in self.state.lrange(LAG_KEY, 0, -1)]

    def close(self) -> None:
        self.pg.close()


def delta(before: dict, after: dict) -> dict:
    return {k: after[k] - before.get(k, 0) for k in after}


@dataclass
class Phase:
    name: str
    target: str  # "on" or "off": which gunicorn
    seed: int
    warmup: int
    seconds: int
    only: str = ""
    result: dict = field(default_factory=dict)


class Bench:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.processes = Processes(WORK / "logs")
        self.timings: dict[str, float] = {}
        self.env = self._env()

    def _env(self) -> dict[str, str]:
        c = self.config
        env = {k: v for k, v in os.environ.items() if not k.startswith("BENCH_")}
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings.bench",
            DATABASE_URL=c.database_url,
            REDIS_CACHE_URL=c.cache_url,
            REDIS_STATE_URL=c.state_url,
            CELERY_BROKER_URL=c.broker_url,
            PATH=f"{BIN}:{os.environ.get('PATH', '')}",
            PYTHONUNBUFFERED="1",
            DJANGO_SECRET_KEY=f"bench-{random.SystemRandom().getrandbits(128):032x}",
            SHELF_DICTIONARY_DIR=str(DICTIONARIES),
        )
        env.pop("REDIS_STATE_SENTINELS", None)
        return env

    def step(self, name: str, command: list[str], env: dict | None = None) -> str:
        started = time.monotonic()
        result = subprocess.run(
            command, cwd=ROOT, env=env or self.env, capture_output=True, text=True, check=False
        )
        self.timings[name] = round(time.monotonic() - started, 1)
        if result.returncode != 0:
            output = f"{result.stdout}{result.stderr}".strip()
            raise BenchError(f"{name} failed ({result.returncode}):\n{output}")
        return result.stdout

    def manage(self, *args: str) -> str:
        return self.step(args[0], [PYTHON, "manage.py", *args])

    # Set-up -----------------------------------------------------------------------------------
    def prepare(self) -> dict:
        c = self.config
        for port in c.ports:
            if services.listening(HOST, port):
                raise BenchError(f"port {port} is taken (another bench?); set BENCH_PORTS")
        say(f"database {c.dbname}; Redis cache {c.cache_url}, state {c.state_url}, "
            f"broker {c.broker_url}")  # fmt: skip
        self.step(
            "services",
            [PYTHON, "scripts/services.py", "up", "--record", str(WORK / "services.json"),
             "--create-db"],
        )  # fmt: skip
        self.manage("migrate", "--noinput", "-v0")
        self.manage("collectstatic", "--noinput", "-v0")
        seeded = self.manage("seed_catalog", "--products", str(c.products), "--if-empty")
        say(seeded.strip().splitlines()[-1] if seeded.strip() else "catalog ready")
        self.dictionaries_train()
        for url in (c.cache_url, c.state_url, c.broker_url):
            redis.Redis.from_url(url).flushdb()
        out = self.step(
            "prepare",
            [PYTHON, "-m", "bench.prepare", "--out", str(WORK / "workload.json"),
             "--seed", str(c.seed), "--accounts", str(c.accounts)],
        )  # fmt: skip
        say(out.strip())
        return {"seeded": seeded.strip()}

    def dictionaries_train(self) -> None:
        """As a shop does before it opens: zstd dictionaries trained on its own pages
        (SHELF_DICTIONARY_DIR, shelf/compression.py), from DICTIONARY_SAMPLES product pages
        put on the shelf for it; the shelf is emptied again afterwards (prepare)."""
        shutil.rmtree(DICTIONARIES, ignore_errors=True)
        redis.Redis.from_url(self.config.cache_url).flushdb()
        self.manage("warm_cache", "--jobs", "2", "--products", str(DICTIONARY_SAMPLES))
        out = self.manage("train_dictionaries", "--samples", str(DICTIONARY_SAMPLES))
        for line in out.strip().splitlines():
            say(line)

    def start(self) -> None:
        c = self.config
        (WORK / "logs").mkdir(parents=True, exist_ok=True)
        for target, port in zip(("on", "off"), c.ports, strict=True):
            env = {
                **self.env,
                "SHELF_ENABLED": "true" if target == "on" else "false",
                "WEB_CONCURRENCY": "2",
                # config/gunicorn.py empties it when gunicorn starts.
                "PROMETHEUS_MULTIPROC_DIR": str(WORK / f"prometheus-{target}"),
                "GUNICORN_ACCESS_LOG": str(WORK / "logs" / f"access-{target}.log"),
            }
            self.processes.start(
                f"gunicorn-{target}",
                [str(BIN / "gunicorn"), "--config", "config/gunicorn.py", "--bind",
                 f"{HOST}:{port}", "--control-socket", str(WORK / f"gunicorn-{target}.ctl")],
                env,
            )  # fmt: skip
        self.processes.start(
            "worker", [str(BIN / "celery"), "-A", "config", "worker", "--loglevel", "INFO"],
            self.env,
        )  # fmt: skip
        self.processes.start(
            "beat",
            [str(BIN / "celery"), "-A", "config", "beat", "--loglevel", "INFO", "--schedule",
             str(WORK / "celerybeat-schedule")],
            self.env,
        )  # fmt: skip
        for port in c.ports:
            wait_http(port)
        self.processes.check()
        say(f"gunicorn with the shelf on :{c.ports[0]}, without on :{c.ports[1]}; worker, beat")

    def check_login(self) -> None:
        """Sign in once through the real form: the accounts' password works."""
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        base = f"http://{HOST}:{self.config.ports[0]}"
        opener.open(f"{base}/accounts/login/", timeout=30).read()
        token = next(c.value for c in jar if c.name == "csrftoken")
        form = urllib.parse.urlencode(
            {"username": "bench-0001", "password": BENCH_PASSWORD, "csrfmiddlewaretoken": token}
        ).encode()
        page = opener.open(f"{base}/accounts/login/", data=form, timeout=30).read().decode()
        if "Hi, bench-0001" not in page:
            raise BenchError("the bench account could not sign in through /accounts/login/")

    def store_prerendered(self, catalog: dict) -> int:
        """Put one product page, as an anonymous visitor gets it, into the cache Redis."""
        slug = catalog["products"][0][1]
        url = f"http://{HOST}:{self.config.ports[0]}/p/{slug}/"
        with urllib.request.urlopen(url, timeout=30) as response:
            page = response.read()
        redis.Redis.from_url(self.config.cache_url).set(PRERENDERED_KEY, page)
        return len(page)

    def warm_pages(self, paths: list[str]) -> None:
        """GET each page once from the shelf-on gunicorn, so that a hit phase measures hits
        from its first request on, however short its warm-up (the users' rounds through the
        seed's 48 categories do not all come round in a 5 s warm-up)."""
        for n, path in enumerate(paths):
            # One address each, as the shoppers' requests have: 60 searches a minute per client.
            request = urllib.request.Request(
                f"http://{HOST}:{self.config.ports[0]}{path}",
                headers={"X-Forwarded-For": f"127.254.{n >> 8 & 255}.{n & 255}"},
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                response.read()

    # Phases -----------------------------------------------------------------------------------
    def run_phase(self, phase: Phase, probes: Probes) -> None:
        c = self.config
        port = c.ports[0] if phase.target == "on" else c.ports[1]
        samples = WORK / f"samples-{phase.name}.jsonl"
        started_file = WORK / f"started-{phase.name}"
        for path in (samples, started_file):
            path.unlink(missing_ok=True)
        probes.state.delete(LAG_KEY)
        env = {
            **self.env,
            "BENCH_WORKLOAD": str(WORK / "workload.json"),
            "BENCH_SEED": str(phase.seed),
            "BENCH_SAMPLES": str(samples),
            "BENCH_STARTED": str(started_file),
            "BENCH_ONLY": phase.only,
        }
        total = phase.warmup + phase.seconds
        command = [
            str(BIN / "locust"), "-f", "bench/locustfile.py", "--headless",
            "--host", f"http://{HOST}:{port}", "--users", str(c.users),
            "--spawn-rate", str(c.users), "--run-time", f"{total}s", "--stop-timeout", "0",
            "--loglevel", "WARNING", "--only-summary", "--exit-code-on-error", "0",
        ]  # fmt: skip
        say(f"phase {phase.name}: shelf {phase.target}, {c.users} users, seed {phase.seed}, "
            f"{phase.warmup} s warm-up + {phase.seconds} s{' (' + phase.only + ')' if phase.only else ''}")  # fmt: skip  # noqa: E501
        process = self.processes.start(f"locust-{phase.name}", command, env)
        if not services.wait_until(started_file.exists, 60, process=process):
            raise BenchError(f"locust did not start; see {WORK}/logs/locust-{phase.name}.log")
        t0 = float(started_file.read_text())
        time.sleep(max(0.0, t0 + phase.warmup - time.time()))
        before = probes.snapshot()
        end = t0 + total
        try:
            process.wait(timeout=max(0.0, end - time.time()) + 60)
        except subprocess.TimeoutExpired as exc:
            raise BenchError(f"locust ran past its time in phase {phase.name}") from exc
        self.processes.running.pop(f"locust-{phase.name}", None)
        # A request to each worker flushes its buffered shelf counters (at most once a second);
        # the bare view, so that PostgreSQL's counters see nothing of it.
        time.sleep(1.1)
        for _ in range(8):
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"http://{HOST}:{port}/bench/bare/", timeout=5).read()
        probes.settle()
        after = probes.snapshot()
        self.processes.check()
        phase.result = {
            "window": [before["time"], end],
            "samples": str(samples),
            "pg": delta(before["pg"], after["pg"]),
            "redis": delta(before["redis"], after["redis"]),
            "redis_memory": after["redis_memory"],
            "shelf": delta(before["shelf"], after["shelf"]),
            "lags": probes.lags(),
            "loadavg": [round(before["loadavg"], 2), round(after["loadavg"], 2)],
        }

    def under_pressure(self, phase: Phase, probes: Probes) -> list[Phase]:
        """Run `phase` with the cache Redis's maxmemory at BENCH_PRESSURE_MB (allkeys-lru
        evicts down to it first), then give the cache its own maxmemory back; [] with a reason
        where the server refuses CONFIG SET (a managed Redis)."""
        r = redis.Redis.from_url(self.config.cache_url)
        try:
            before = r.config_get("maxmemory")["maxmemory"]
            r.config_set("maxmemory", f"{self.config.pressure_mb}mb")
        except redis.RedisError as error:
            say(f"phase {phase.name} skipped: the cache Redis refused CONFIG SET ({error})")
            return []
        try:
            self.run_phase(phase, probes)
            phase.result["maxmemory"] = self.config.pressure_mb * 2**20
            phase.result["used_memory"] = int(r.info("memory")["used_memory"])
        finally:
            r.config_set("maxmemory", before)
        return [phase]

    def inprocess(self) -> dict:
        out = WORK / "inprocess.json"
        say(self.step(
            "inprocess",
            [PYTHON, "-m", "bench.inprocess", "--workload", str(WORK / "workload.json"),
             "--out", str(out), "--requests", str(self.config.inprocess_requests),
             "--seed", str(self.config.seed)],
            {**self.env, "SHELF_ENABLED": "true"},
        ).strip())  # fmt: skip
        return json.loads(out.read_text())

    def staleness(self) -> dict:
        out = WORK / "staleness.json"
        say(self.step(
            "staleness",
            [PYTHON, "-m", "bench.staleness", "--port", str(self.config.ports[0]),
             "--workload", str(WORK / "workload.json"), "--out", str(out),
             "--rounds", str(self.config.staleness_rounds)],
            {**self.env, "SHELF_ENABLED": "true"},
        ).strip())  # fmt: skip
        return json.loads(out.read_text())

    def memory_sample(self, catalog: dict, size: int = 1000) -> dict:
        """MEMORY USAGE of cached product entries (and their version keys) and product pages."""
        r = redis.Redis.from_url(self.config.cache_url)
        key = catalog["keys"]
        rng = random.Random(self.config.seed)
        ids = [pid for pid, _ in catalog["products"]]
        slugs = {pid: slug for pid, slug in catalog["products"]}
        rng.shuffle(ids)

        def usage(keys: list[str]) -> list[int | None]:
            pipe = r.pipeline(transaction=False)
            for key in keys:
                pipe.execute_command("MEMORY", "USAGE", key, "SAMPLES", "0")
            return pipe.execute()

        entries, tags, pages, values, stock, stock_tags = [], [], [], [], [], []
        for start in range(0, len(ids), 5000):
            chunk = ids[start : start + 5000]
            keys = [key["product"].format(pid) for pid in chunk]
            found = [(pid, n) for pid, n in zip(chunk, usage(keys), strict=True) if n]
            found = found[: size - len(entries)]
            entries += [n for _, n in found]
            tags += usage([key["version"].format(pid) for pid, _ in found])
            values += [len(v or b"") for v in r.mget([key["product"].format(p) for p, _ in found])]
            page_keys = [key["page"].format(slugs[pid]) for pid, _ in found]
            pages += [n for n in usage(page_keys) if n]
            # What else a product page view reads: its stock entry and that entry's tag.
            if "stock" in key:
                stock += [n for n in usage([key["stock"].format(p) for p, _ in found]) if n]
                stock_tags += [
                    n for n in usage([key["stock_version"].format(p) for p, _ in found]) if n
                ]
            if len(entries) >= size:
                break
        info = r.info("memory")
        return {
            "entry_bytes": entries,
            "tag_bytes": [n for n in tags if n],
            "value_bytes": values,
            "page_bytes": pages,
            "stock_bytes": stock,
            "stock_tag_bytes": stock_tags,
            "used_memory": int(info["used_memory"]),
            "maxmemory": int(r.config_get("maxmemory").get("maxmemory", 0)),
            "keys": int(r.dbsize()),
        }

    def machine(self) -> dict:
        cpu = ""
        with contextlib.suppress(OSError):
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        with psycopg.connect(_with_path(self.config.database_url, "/postgres")) as conn:
            pg = conn.execute("SHOW server_version").fetchone()[0]
            preload = conn.execute("SHOW shared_preload_libraries").fetchone()[0]
        info = redis.Redis.from_url(self.config.cache_url).info("server")
        return {
            "cores": os.cpu_count(),
            "cpu": cpu,
            "python": platform.python_version(),
            "postgres": pg,
            "postgres_preload": preload,
            "redis": info.get("redis_version"),
            "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        }

    def run(self) -> dict:
        c = self.config
        began = time.monotonic()
        WORK.mkdir(parents=True, exist_ok=True)
        prepared = self.prepare()
        machine = self.machine()
        catalog = json.loads((WORK / "workload.json").read_text())
        self.start()
        self.check_login()
        # As an operator would before opening: the whole plan up to the memory budget, in
        # two processes (BENCH_WARM_PRODUCTS caps it for short runs).
        warm = ["warm_cache", "--jobs", "2"]
        if c.warm_products is not None:
            warm += ["--products", str(c.warm_products)]
        out = self.manage(*warm)
        say(out.strip().splitlines()[-1])
        page_size = self.store_prerendered(catalog)
        w, s, cs = c.warmup, c.seconds, c.ceiling_seconds
        warm = Phase("shelf-warmup", "on", c.seed + 1000, c.shelf_warmup, 0)
        rounds = []
        for n in range(1, c.rounds + 1):
            rounds += [Phase(f"on-{n}", "on", c.seed + n, w, s),
                       Phase(f"off-{n}", "off", c.seed + n, w, s)]  # fmt: skip
        ceiling = [
            Phase("ceiling-bare", "on", c.seed, 5, cs, only="bare"),
            Phase("product-only-on", "on", c.seed + 500, 5, cs, only="product"),
            # The same requests again: every page is on the shelf now.
            Phase("product-replay-on", "on", c.seed + 500, 5, cs, only="product"),
            Phase("product-only-off", "off", c.seed + 500, 5, cs, only="product"),
        ]
        # The pre-rendered page and the hits of every kind of page, in CEILING_ROUNDS rounds
        # that each run all of them in a rotated order, so that every hit phase is compared
        # with a pre-rendered phase of its own round (minutes apart, a shared machine's load
        # moved the ratio by half). Each fixed set is fetched once first (warm_pages): the
        # most popular product pages (anonymous, then signed in), the home page, the
        # categories' first pages, the most frequent searches.
        kinds = ["prerendered", "product-hit", "home", "category", "search", "product-signed-in"]
        names = {
            "prerendered": "ceiling-prerendered", "product-hit": "product-hit-on",
            "home": "home-hit-on", "category": "category-hit-on", "search": "search-hit-on",
            "product-signed-in": "product-signed-in-on",
        }  # fmt: skip
        hits = []
        for n in range(c.ceiling_rounds):
            for kind in kinds[n % len(kinds) :] + kinds[: n % len(kinds)]:
                hits.append(Phase(f"{names[kind]}-r{n + 1}", "on", c.seed + n, 3,
                                  c.ceiling_round_seconds, only=kind))  # fmt: skip
        probes = Probes(c)
        try:
            for phase in [warm, *rounds]:
                self.run_phase(phase, probes)
            memory = self.memory_sample(catalog)
            shoppers = Catalog.load(WORK / "workload.json")
            for phase in ceiling:
                self.run_phase(phase, probes)
            warmed = set()
            for phase in hits:
                if phase.only in HIT_KINDS and phase.only not in warmed:
                    self.warm_pages(hit_paths(shoppers, HIT_KINDS[phase.only]))
                    warmed.add(phase.only)
                self.run_phase(phase, probes)
            # Last, as it evicts: the first round's workload again, in a smaller cache.
            pressure = Phase("pressure", "on", c.seed + 1, w, s)
            pressed = self.under_pressure(pressure, probes) if c.pressure_mb else []
            self.store_prerendered(catalog)  # it may have been evicted; bench.inprocess reads it
        finally:
            probes.close()
        inprocess = self.inprocess()
        staleness = self.staleness()
        phases = [warm, *rounds, *ceiling, *hits, *pressed]
        return {
            "command": c.command,
            "config": {k: v for k, v in asdict(c).items() if k != "command"},
            "machine": machine,
            "catalog": {
                "products": len(catalog["products"]),
                "categories": len(catalog["categories"]),
                "queries": len(catalog["queries"]),
                "sessions": len(catalog["sessions"]),
                "seeded": prepared["seeded"],
            },
            "prerendered_bytes": page_size,
            "memory": memory,
            "inprocess": inprocess,
            "staleness": staleness,
            "phases": [{**asdict(p), "result": p.result} for p in phases],
            "timings": self.timings,
            "wall_seconds": round(time.monotonic() - began, 1),
            "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        }

    def close(self) -> None:
        self.processes.stop_all()
        subprocess.run(
            [PYTHON, "scripts/services.py", "down", "--record", str(WORK / "services.json")],
            cwd=ROOT, env=self.env, check=False,
        )  # fmt: skip


def stack_phase(config: Config) -> dict:
    """The stack's load test (scripts/stack.py, bench/stack.py), or why it was skipped."""
    from scripts import stack

    say("phase stack: nginx in front of 3 app processes against 1 (make stack's topology)")
    try:
        return stack.bench_measure(
            config.stack_seconds, config.stack_rounds, config.stack_connections
        )
    except (stack.StackError, subprocess.CalledProcessError) as error:
        say(f"phase stack skipped: {error}")
        return {"skipped": str(error)}


def main() -> int:
    try:
        config = Config.from_env()
    except BenchError as error:
        print(f"bench: error: {error}", file=sys.stderr)
        return 1
    bench = Bench(config)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        results = bench.run()
    except BenchError as error:
        print(f"bench: error: {error}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr, flush=True)
        return 130
    finally:
        bench.close()
    raw = WORK / "results.json"
    raw.write_text(json.dumps(results, indent=1))  # kept if the stack phase is interrupted
    if config.stack:
        try:
            results["stack"] = stack_phase(config)
        except KeyboardInterrupt:
            print(f"bench: interrupted; the other phases' numbers are in {raw}", file=sys.stderr)
            return 130
        raw.write_text(json.dumps(results, indent=1))
    from bench import report

    written = report.write(results, ROOT / config.output)
    say(f"wrote {', '.join(map(str, written))} "
        f"({results['wall_seconds']:.0f} s; raw numbers in {raw})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
