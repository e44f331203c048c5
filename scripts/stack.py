"""`make stack`: Shelf's production topology on this machine, without containers.

nginx (Debian's package) on one port in front of the edge cache (Debian's Varnish with
varnish-modules, docker/varnish/shelf.vcl) and three gunicorn processes, a Celery worker,
Celery beat, PostgreSQL and the three Redis roles on three ports, each Redis started with its
configuration from docker/redis/ and nginx with docker/nginx/shelf.conf: the same files that
docker/compose.yaml uses. Run it with the project's .venv/bin/python as a module, from the
checkout (it imports scripts.services, and for `bench` the load test in bench/stack.py):

    python -m scripts.stack run               # prints the URL; Ctrl-C stops all of it
    python -m scripts.stack bench             # `make stack-bench`: see docs/stack.md
    python -m scripts.stack compose-config    # `make compose-config`: docker/compose.yaml valid?

`run --compare` also starts a second nginx, one port up, whose upstream is the first app
process alone: the benchmark sends the same load through both, alternating. With the edge, it
also starts an nginx two ports up straight to the app processes (no edge), and one three ports
up to Django's hello world (bench/hello.py), for the edge's figures.

Ports and names come from the environment (defaults in brackets):

    SHELF_STACK_PORT          nginx [8080]; with --compare, PORT+1 is the one-app nginx
    SHELF_STACK_APP_PORTS     the gunicorn processes [8101,8102,8103]
    SHELF_STACK_REDIS_PORTS   cache, state, broker Redis [6380,6381,6382]
    SHELF_STACK_DATABASE_URL  [postgres://postgres@127.0.0.1:5432/shelf_stack]
    SHELF_STACK_WORKERS       gunicorn workers per app process [2]
    SHELF_STACK_PRODUCTS      demo catalog size, seeded if the database is empty [20000]
    SHELF_STACK_OPS_PORTS     Prometheus, redis_exporter, postgres_exporter [9090,9121,9187]

Servers already listening on those ports are used as they are (scripts/services.py); servers
this run started are stopped when it ends. Nothing outside .local/stack/ is written, except
that nginx, wrk and Varnish are installed with apt-get when missing (as root, on Debian; the
stack runs without the edge, saying so, when Varnish or its xkey module cannot be had), and so are
Prometheus and its Redis and PostgreSQL exporters; the stack runs without any of those three it
cannot get (saying so), and always without Grafana, which Debian does not package
(docker/compose.yaml's profile `ops` has it).

The three Redis roles require a password (requirepass), made at the first run and kept in
.local/stack/redis-password (mode 0600); every process gets it in its URLs, the redis_exporter
in REDIS_PASSWORD.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

from scripts import services

ROOT = Path(__file__).resolve().parent.parent
LOCAL = Path(os.environ.get("SHELF_LOCAL_DIR", ROOT / ".local")).resolve()
STACK = LOCAL / "stack"
# The stack's pictures, served by its nginx (the `root` of docker/nginx/shelf.conf's /media/).
MEDIA = STACK / "media"
NGINX_CONF = ROOT / "docker" / "nginx" / "shelf.conf"
PROMETHEUS_CONF = ROOT / "docker" / "prometheus" / "prometheus.yml"
HOST = "127.0.0.1"


def say(message: str) -> None:
    print(f"stack: {message}", flush=True)


class StackError(Exception):
    """Something a developer has to fix; the message says what."""


def ports(name: str, default: str) -> list[int]:
    return [int(p) for p in os.environ.get(name, default).split(",") if p.strip()]


NGINX_PORT = ports("SHELF_STACK_PORT", "8080")[0]
APP_PORTS = ports("SHELF_STACK_APP_PORTS", "8101,8102,8103")
CACHE_PORT, STATE_PORT, BROKER_PORT = ports("SHELF_STACK_REDIS_PORTS", "6380,6381,6382")
DATABASE_URL = os.environ.get(
    "SHELF_STACK_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/shelf_stack"
)
WORKERS = int(os.environ.get("SHELF_STACK_WORKERS", "2"))
PROMETHEUS_PORT, REDIS_EXPORTER_PORT, POSTGRES_EXPORTER_PORT = ports(
    "SHELF_STACK_OPS_PORTS", "9090,9121,9187"
)
PRODUCTS = int(os.environ.get("SHELF_STACK_PRODUCTS", "20000"))
# Varnish between nginx and the app processes (docker/varnish/shelf.vcl), when it can be had.
EDGE_PORT = ports("SHELF_STACK_EDGE_PORT", "8090")[0]
EDGE_MEMORY = os.environ.get("SHELF_STACK_EDGE_MEMORY", "256m")
# `run --compare` with the edge: Django's "hello world" (bench/hello.py), for the benchmark.
HELLO_PORT = ports("SHELF_STACK_HELLO_PORT", "8109")[0]
# The demo admin of config/settings/local.py (ensure_demo_admin creates it).
ADMIN = ("admin", "shelf-admin")


def redis_password() -> str:
    """The password of the stack's Redis roles: made at the first run, then kept, so that a
    server left running by an earlier run (or its replacement) keeps matching the URLs."""
    path = STACK / "redis-password"
    if not path.exists():
        STACK.mkdir(parents=True, exist_ok=True)
        # Created readable by its owner only; token_urlsafe needs no quoting in a URL.
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
            file.write(secrets.token_urlsafe(24) + "\n")
    return path.read_text().strip()


def stack_env(edge: bool = False) -> dict[str, str]:
    """The environment of every process of the stack: its own database and Redis ports, the
    Redis password in the URLs (services.py starts each role with it as requirepass), and the
    edge cache that its saves purge (when it runs one)."""
    env = dict(os.environ)
    if edge:
        env["SHELF_EDGE_CACHES"] = f"http://{HOST}:{EDGE_PORT}"
    auth = f":{redis_password()}@"
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        DATABASE_URL=DATABASE_URL,
        REDIS_CACHE_URL=f"redis://{auth}{HOST}:{CACHE_PORT}/0",
        REDIS_STATE_URL=f"redis://{auth}{HOST}:{STATE_PORT}/0",
        CELERY_BROKER_URL=f"redis://{auth}{HOST}:{BROKER_PORT}/0",
        # redis_exporter's password for every role it scrapes (kept out of the Procfile).
        REDIS_PASSWORD=redis_password(),
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        MEDIA_ROOT=str(MEDIA),
        PATH=f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        PYTHONUNBUFFERED="1",
        # nginx logs every request already; three more logs would only slow the benchmark.
        GUNICORN_ACCESS_LOG="/dev/null",
    )
    return env


# SYSTEM PACKAGES
# ------------------------------------------------------------------------------------------------
def debian_package(program: str, package: str) -> str:
    """Path of `program`, installing Debian's `package` with apt-get if it is missing."""
    found = shutil.which(program) or shutil.which(program, path="/usr/sbin:/sbin")
    if found:
        return found
    apt_install(package, f"{program} is not installed")
    found = shutil.which(program) or shutil.which(program, path="/usr/sbin:/sbin")
    if not found:
        raise StackError(f"installed {package}, but there is still no {program}")
    return found


def apt_install(package: str, why: str) -> None:
    """apt-get install Debian's `package` (as root on Debian), saying `why`."""
    if not Path("/etc/debian_version").exists():
        raise StackError(f"{why}; install {package} with your package manager")
    if os.geteuid() != 0:
        raise StackError(f"{why}; as root: apt-get install {package} (or run this as root)")
    say(f"{why}: installing Debian's {package} (apt-get install {package})")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # Another apt-get may hold the dpkg lock (a fresh machine's boot-time upgrades): wait for it.
    apt = ["apt-get", "-o", "DPkg::Lock::Timeout=300", "-q"]
    result = subprocess.run([*apt, "install", "-y", "--no-install-recommends", package], env=env)
    if result.returncode != 0:
        say("apt-get install failed; updating the package lists once and trying again")
        subprocess.run([*apt, "update"], env=env, check=True)
        subprocess.run(
            [*apt, "install", "-y", "--no-install-recommends", package], env=env, check=True
        )


def optional_package(program: str, package: str) -> str | None:
    """debian_package(), or None (said) when it cannot be had: the stack runs without it."""
    try:
        return debian_package(program, package)
    except (StackError, subprocess.CalledProcessError) as error:
        why = error if isinstance(error, StackError) else f"apt-get install {package} failed"
        say(f"running without {program}: {why}")
        return None


# NGINX CONFIGURATION
# ------------------------------------------------------------------------------------------------
def edge_program() -> str | None:
    """varnishd with vmod_xkey (Debian's varnish and varnish-modules, installed when missing),
    or None, said, when it cannot be had: the stack then runs without the edge cache."""
    varnishd = optional_package("varnishd", "varnish")
    if varnishd is None:
        return None
    if not xkey_installed():
        try:
            apt_install("varnish-modules", "Varnish has no xkey module")
        except (StackError, subprocess.CalledProcessError) as error:
            why = error if isinstance(error, StackError) else "apt-get install failed"
            say(f"running without the edge cache (Varnish): {why}")
            return None
    return varnishd if xkey_installed() else None


def xkey_installed() -> bool:
    return bool(list(Path("/usr/lib").glob("*/varnish/vmods/libvmod_xkey.so")))


def render_site(listen_port: int, app_ports: list[int]) -> str:
    """docker/nginx/shelf.conf with local upstream servers, listen port and media folder,
    nothing else changed."""
    text = NGINX_CONF.read_text()
    servers = list(re.finditer(r"^(\s*)server \S+:\d+([^;\n]*);\n", text, re.M))
    if not servers:
        raise StackError(f"{NGINX_CONF}: no `server host:port ...;` line in the upstream")
    indent, params = servers[0].group(1), servers[0].group(2)
    local = "".join(f"{indent}server {HOST}:{port}{params};\n" for port in app_ports)
    text = text[: servers[0].start()] + local + text[servers[-1].end() :]
    text, count = re.subn(r"^(\s*)listen 80;", rf"\1listen {HOST}:{listen_port};", text, flags=re.M)
    if count != 1:
        raise StackError(f"{NGINX_CONF}: expected one `listen 80;` line")
    text, count = re.subn(r"^(\s*)root /srv/shelf;", rf"\1root {MEDIA.parent};", text, flags=re.M)
    if count != 1:
        raise StackError(f"{NGINX_CONF}: expected one `root /srv/shelf;` line")
    return text


def write_nginx(name: str, listen_port: int, app_ports: list[int]) -> Path:
    """Write a complete nginx configuration under .local/stack/<name>/; return its path."""
    prefix = STACK / name
    (prefix / "tmp").mkdir(parents=True, exist_ok=True)
    (prefix / "access.log").unlink(missing_ok=True)  # the spread report counts this run only
    (prefix / "shelf.conf").write_text(
        "# Generated by scripts/stack.py from docker/nginx/shelf.conf; edit that file.\n"
        + render_site(listen_port, app_ports)
    )
    temp = "\n".join(
        f"    {kind}_temp_path {prefix / 'tmp' / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"""# Generated by scripts/stack.py: the main context that the nginx image has built in.
worker_processes auto;
daemon off;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} warn;
events {{
    worker_connections 1024;
}}
http {{
    default_type application/octet-stream;
    log_format upstream '$remote_addr [$time_local] "$request" $status $upstream_addr '
                        '$request_time';
    access_log {prefix / "access.log"} upstream buffer=64k flush=1s;
{temp}
    include {prefix / "shelf.conf"};
}}
"""
    )
    return conf


# VARNISH CONFIGURATION
# ------------------------------------------------------------------------------------------------
VARNISH_VCL = ROOT / "docker" / "varnish" / "shelf.vcl"
_VCL_BACKEND = re.compile(r'^backend (\w+) \{ \.host = "[^"]+"; \.port = "\d+"; \}\n', re.M)
_VCL_ADD = re.compile(r"^(\s*)apps\.add_backend\(\w+\);\n", re.M)


def render_vcl(app_ports: list[int]) -> str:
    """docker/varnish/shelf.vcl with local app servers as its backends, nothing else changed."""
    text = VARNISH_VCL.read_text()
    backends, adds = list(_VCL_BACKEND.finditer(text)), list(_VCL_ADD.finditer(text))
    if not backends or not adds:
        raise StackError(f"{VARNISH_VCL}: no `backend ...` lines or no apps.add_backend() lines")
    indent = adds[0].group(1)
    local = "".join(
        f'backend web{n} {{ .host = "{HOST}"; .port = "{port}"; }}\n'
        for n, port in enumerate(app_ports, start=1)
    )
    add = "".join(f"{indent}apps.add_backend(web{n});\n" for n in range(1, len(app_ports) + 1))
    text = text[: adds[0].start()] + add + text[adds[-1].end() :]
    return text[: backends[0].start()] + local + text[backends[-1].end() :]


def varnish_command(varnishd: str, workdir: Path, listen_port: int, app_ports: list[int],
                    memory: str = "256m") -> list[str]:
    """varnishd in the foreground on `listen_port` in front of `app_ports`, its VCL and working
    directory in `workdir` (no privilege separation: it runs as whoever starts it)."""
    workdir.mkdir(parents=True, exist_ok=True)
    vcl = workdir / "shelf.vcl"
    vcl.write_text(
        "# Generated by scripts/stack.py from docker/varnish/shelf.vcl; edit that file.\n"
        + render_vcl(app_ports)
    )
    return [
        varnishd, "-F", "-j", "none", "-n", str(workdir / "instance"), "-f", str(vcl),
        "-a", f"{HOST}:{listen_port}", "-T", "none", "-s", f"malloc,{memory}",
    ]  # fmt: skip


# PROMETHEUS
# ------------------------------------------------------------------------------------------------
def render_prometheus() -> str:
    """docker/prometheus/prometheus.yml with this machine's addresses for compose's services."""
    text = PROMETHEUS_CONF.read_text()
    apps = ", ".join(f'"{HOST}:{port}"' for port in APP_PORTS)
    local = {
        '["web1:8000", "web2:8000", "web3:8000"]': f"[{apps}]",
        '"redis://redis-cache:6379"': f'"redis://{HOST}:{CACHE_PORT}"',
        '"redis://redis-state:6379"': f'"redis://{HOST}:{STATE_PORT}"',
        '"redis://redis-broker:6379"': f'"redis://{HOST}:{BROKER_PORT}"',
        "replacement: redis-exporter:9121": f"replacement: {HOST}:{REDIS_EXPORTER_PORT}",
        '"postgres-exporter:9187"': f'"{HOST}:{POSTGRES_EXPORTER_PORT}"',
        '"localhost:9090"': f'"{HOST}:{PROMETHEUS_PORT}"',
        "  - alerts.yml": f"  - {PROMETHEUS_CONF.with_name('alerts.yml')}",
    }
    for compose, here in local.items():
        if text.count(compose) != 1:
            raise StackError(f"{PROMETHEUS_CONF}: expected {compose} once")
        text = text.replace(compose, here)
    return text


def ops_processes() -> dict[str, str]:
    """Procfile lines of Prometheus and the exporters this machine has (or can install)."""
    lines = {}
    prometheus = optional_package("prometheus", "prometheus")
    if prometheus:
        folder = STACK / "prometheus"
        folder.mkdir(parents=True, exist_ok=True)
        conf = folder / "prometheus.yml"
        conf.write_text(
            "# Generated by scripts/stack.py from docker/prometheus/prometheus.yml; edit that.\n"
            + render_prometheus()
        )
        lines["prometheus"] = (
            f"{prometheus} --config.file={conf} --storage.tsdb.path={folder / 'data'} "
            f"--web.listen-address={HOST}:{PROMETHEUS_PORT}"
        )
    redis_exporter = optional_package("prometheus-redis-exporter", "prometheus-redis-exporter")
    if redis_exporter:
        # No -redis.addr: Prometheus names the role's server in each scrape (/scrape?target=);
        # the roles' one password is REDIS_PASSWORD in stack_env().
        lines["redis_exporter"] = (
            f"{redis_exporter} -web.listen-address {HOST}:{REDIS_EXPORTER_PORT}"
        )
    postgres_exporter = optional_package(
        "prometheus-postgres-exporter", "prometheus-postgres-exporter"
    )
    if postgres_exporter:
        dsn = f"{DATABASE_URL}{'&' if '?' in DATABASE_URL else '?'}sslmode=disable"
        lines["postgres_exporter"] = (
            f"DATA_SOURCE_NAME='{dsn}' {postgres_exporter} "
            f"--web.listen-address={HOST}:{POSTGRES_EXPORTER_PORT}"
        )
    say("running without Grafana: Debian has no package for it (compose's profile ops has it)")
    return lines


# RUN
# ------------------------------------------------------------------------------------------------
def manage(env: dict[str, str], *args: str, capture: bool = False) -> str:
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        text=True,
        stdout=subprocess.PIPE if capture else None,
    )
    return result.stdout or ""


def procfile(
    nginx: str, confs: dict[str, Path], ops: dict[str, str], extra: dict[str, str] | None = None
) -> str:
    lines = [
        "# Generated by scripts/stack.py: three app processes behind nginx, a worker and beat."
    ]
    lines.extend(f"{name}: {command}" for name, command in (extra or {}).items())
    for number, port in enumerate(APP_PORTS, start=1):
        # Each app process adds up its own workers at its /metrics (Prometheus scrapes all
        # three: one shared folder would count every sample three times), and has its own
        # control socket (gunicorn's default in $HOME is one path for every gunicorn of the user).
        lines.append(
            f"web{number}: PROMETHEUS_MULTIPROC_DIR={STACK / 'metrics' / f'web{number}'} "
            f"gunicorn --config config/gunicorn.py --workers {WORKERS} --bind {HOST}:{port} "
            f"--name shelf-web{number} --control-socket {STACK / f'web{number}.ctl'}"
        )
    lines.append("worker: celery -A config worker --loglevel INFO --concurrency 2")
    lines.append(
        f"beat: celery -A config beat --loglevel INFO --schedule {STACK / 'celerybeat-schedule'}"
    )
    for name, conf in confs.items():
        lines.append(f"{name}: {nginx} -p {conf.parent} -c {conf} -e stderr")
    lines.extend(f"{name}: {command}" for name, command in ops.items())
    return "\n".join(lines) + "\n"


def banner(
    urls: list[str], admin: str, ready: list[int], ops: dict[str, str], edge: bool
) -> None:
    if services.wait_until(lambda: all(services.listening(HOST, p) for p in ready), 120, 0.2):
        lines = [
            f"==> Shelf stack is up: {urls[0]}  (nginx -> "
            f"{'the edge cache (Varnish) -> ' if edge else ''}{len(APP_PORTS)} app processes)",
            *(f"==> {url}" for url in urls[1:]),
            f"==> app processes: {', '.join(f'http://{HOST}:{p}/' for p in APP_PORTS)}",
            f"==> Admin: {urls[0]}admin/  {admin.strip()}",
            *(
                [f"==> Prometheus: http://{HOST}:{PROMETHEUS_PORT}/alerts"]
                if "prometheus" in ops
                else []
            ),
            "==> Ctrl-C stops everything.",
        ]
        print("\n" + "\n".join(lines) + "\n", flush=True)


def _interrupt(*_) -> None:
    raise KeyboardInterrupt


def run(compare: bool) -> int:
    nginx = debian_package("nginx", "nginx")
    STACK.mkdir(parents=True, exist_ok=True)
    varnishd = edge_program()
    # The benchmark's comparison (--compare) measures the shop alone: no scrapes in between.
    ops = {} if compare else ops_processes()
    compared = [NGINX_PORT + 1] + ([NGINX_PORT + 2, NGINX_PORT + 3, HELLO_PORT] if varnishd else [])
    wanted = [NGINX_PORT, *APP_PORTS] + ([EDGE_PORT] if varnishd else [])
    wanted += compared if compare else []
    ops_ports = {"prometheus": PROMETHEUS_PORT, "redis_exporter": REDIS_EXPORTER_PORT,
                 "postgres_exporter": POSTGRES_EXPORTER_PORT}  # fmt: skip
    taken = [
        port for port in wanted + [ops_ports[name] for name in ops]
        if services.listening(HOST, port)
    ]  # fmt: skip
    if taken:
        raise StackError(
            f"something already listens on {', '.join(map(str, taken))} (another make stack?); "
            "stop it or choose other ports (SHELF_STACK_PORT, SHELF_STACK_APP_PORTS, "
            "SHELF_STACK_OPS_PORTS)"
        )
    (LOCAL / "run").mkdir(parents=True, exist_ok=True)
    record = LOCAL / "run" / f"stack-{os.getpid()}.json"
    env = stack_env(edge=varnishd is not None)
    python = str(ROOT / ".venv" / "bin" / "python")
    signal.signal(signal.SIGTERM, _interrupt)  # stopped while preparing: clean up as for Ctrl-C
    try:
        subprocess.run(
            [python, "scripts/services.py", "up", "--record", str(record), "--create-db"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        # The edge starts empty after these: nothing to purge there yet.
        setup = stack_env()
        manage(setup, "migrate", "--noinput")
        manage(setup, "collectstatic", "--noinput", "--verbosity", "0")
        admin = manage(setup, "ensure_demo_admin", capture=True)
        manage(setup, "seed_catalog", "--products", str(PRODUCTS), "--if-empty")
        manage(setup, "warm_cache")
        extra: dict[str, str] = {}
        if varnishd:
            command = varnish_command(varnishd, STACK / "varnish", EDGE_PORT, APP_PORTS,
                                      EDGE_MEMORY)  # fmt: skip
            extra["edge"] = " ".join(command)
            confs = {"nginx": write_nginx("nginx", NGINX_PORT, [EDGE_PORT])}
        else:
            confs = {"nginx": write_nginx("nginx", NGINX_PORT, APP_PORTS)}
        urls = [f"http://{HOST}:{NGINX_PORT}/"]
        if compare:
            confs["nginx1"] = write_nginx("nginx-one-app", NGINX_PORT + 1, APP_PORTS[:1])
            urls.append(f"http://{HOST}:{NGINX_PORT + 1}/  (nginx -> app process 1 only)")
        if compare and varnishd:
            confs["nginx3"] = write_nginx("nginx-no-edge", NGINX_PORT + 2, APP_PORTS)
            urls.append(f"http://{HOST}:{NGINX_PORT + 2}/  (nginx -> the app processes, no edge)")
            # Django's smallest page on as many workers as the shop's app processes have.
            extra["hello"] = (
                f"gunicorn --config config/gunicorn.py --workers {WORKERS * len(APP_PORTS)} "
                f"--bind {HOST}:{HELLO_PORT} --name shelf-hello "
                f"--control-socket {STACK / 'hello.ctl'} bench.hello:application"
            )
            confs["nginx4"] = write_nginx("nginx-hello", NGINX_PORT + 3, [HELLO_PORT])
            urls.append(f"http://{HOST}:{NGINX_PORT + 3}/  (nginx -> Django's hello world)")
        (STACK / "Procfile").write_text(procfile(nginx, confs, ops, extra))
        threading.Thread(
            target=banner, args=(urls, admin, wanted, ops, varnishd is not None), daemon=True
        ).start()
        # Ctrl-C reaches every process of the terminal's group: honcho stops its processes and
        # exits, and this script, which ignores it, then stops the servers it started. The
        # benchmark sends SIGINT to the group the same way.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        honcho = subprocess.Popen(
            ["honcho", "start", "--procfile", str(STACK / "Procfile"), "--env", "/dev/null",
             "--app-root", str(ROOT)],
            cwd=ROOT,
            env=env,
        )  # fmt: skip
        signal.signal(signal.SIGTERM, lambda *_: honcho.send_signal(signal.SIGTERM))
        # honcho exits 130 after stopping everything on Ctrl-C: that is how the stack is meant to
        # stop, so not a failure for make to report as "Error 130".
        code = honcho.wait()
        return 0 if code == 130 else code
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        subprocess.run([python, "scripts/services.py", "down", "--record", str(record)], cwd=ROOT)


# BENCH
# ------------------------------------------------------------------------------------------------
def _bench_stack():
    """bench/stack.py, this topology described for it, and wrk (installed if missing)."""
    # Imported here: bench/ loads psycopg and redis, which `run` and `compose-config` never use.
    from bench import stack as stack_bench

    wrk = debian_package("wrk", "wrk")
    python = str(ROOT / ".venv" / "bin" / "python")
    stack = stack_bench.Stack(
        host=HOST,
        port=NGINX_PORT,
        one_app_port=NGINX_PORT + 1,  # where `run --compare` puts it
        app_ports=APP_PORTS,
        cache_port=CACHE_PORT,
        redis_password=redis_password(),
        workers=WORKERS,
        admin=ADMIN,
        workdir=STACK,
        access_log=STACK / "nginx" / "access.log",  # write_nginx("nginx", ...)
        command=[python, "-m", "scripts.stack", "run", "--compare"],
        edge=edge_program() is not None,
        edge_port=EDGE_PORT,
        no_edge_port=NGINX_PORT + 2,
        hello_port=NGINX_PORT + 3,
        varnish_dir=STACK / "varnish",
    )
    return stack_bench, stack, wrk


def bench(seconds: int, rounds: int, connections: int, output: Path) -> int:
    """`make stack-bench`: bench/stack.py's load test against this topology; writes `output`."""
    from bench.run import BenchError

    stack_bench, stack, wrk = _bench_stack()
    try:
        return stack_bench.run(stack, wrk, seconds, rounds, connections, output)
    except BenchError as error:
        raise StackError(str(error)) from None


def bench_measure(seconds: int, rounds: int, connections: int) -> dict:
    """The same load test for `make bench`'s stack phase: what it measured, as plain data.

    Raises StackError when something is missing (nginx, wrk) or the load test fails."""
    from bench.run import BenchError

    stack_bench, stack, wrk = _bench_stack()
    try:
        return stack_bench.measure(stack, wrk, seconds, rounds, connections)
    except BenchError as error:
        raise StackError(str(error)) from None


# COMPOSE
# ------------------------------------------------------------------------------------------------
def compose_config() -> int:
    """Validate docker/compose.yaml offline: without a profile, with `cluster`, with `ops`."""
    compose_file = ROOT / "docker" / "compose.yaml"
    docker = shutil.which("docker")
    plugin = docker and subprocess.run([docker, "compose", "version"], capture_output=True)
    if plugin and plugin.returncode == 0:
        command = [docker, "compose"]
    else:
        say("no `docker compose` plugin here; using Debian's docker-compose to validate")
        command = [debian_package("docker-compose", "docker-compose")]
    # Only for interpolation: the file refuses to render without a secret key.
    env = {**os.environ, "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", "config-only")}
    for profile in ([], ["--profile", "cluster"], ["--profile", "ops"]):
        run = [*command, "-f", str(compose_file), *profile, "config", "--quiet"]
        result = subprocess.run(run, env=env, cwd=ROOT)
        if result.returncode != 0:
            raise StackError(f"{' '.join(run)} failed")
        say(f"docker/compose.yaml {' '.join(profile) or '(no profile)'}: valid")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p_run = commands.add_parser("run", help="run the stack until Ctrl-C")
    p_run.add_argument("--compare", action="store_true", help="also a one-app nginx on PORT+1")
    p_bench = commands.add_parser("bench", help="3 apps against 1 through nginx; admin freshness")
    p_bench.add_argument("--seconds", type=int, default=10, help="length of each measured run")
    p_bench.add_argument("--rounds", type=int, default=5, help="measured runs per setup")
    p_bench.add_argument("--connections", type=int, default=16, help="wrk's open connections")
    p_bench.add_argument("--output", type=Path, default=ROOT / "docs" / "stack.md")
    commands.add_parser("compose-config", help="validate docker/compose.yaml (offline)")
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            return run(args.compare)
        if args.command == "compose-config":
            return compose_config()
        return bench(args.seconds, args.rounds, args.connections, args.output.resolve())
    except StackError as error:
        print(f"stack: error: {error}", file=sys.stderr, flush=True)
        return 1
    except subprocess.CalledProcessError as error:
        print(f"stack: error: {' '.join(map(str, error.cmd))} failed", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
