"""`make stack-bench`: 3 app processes against 1 through nginx, with wrk; writes docs/stack.md.

scripts/stack.py runs the topology (nginx, the app processes, worker, beat, PostgreSQL, Redis)
and describes it in a Stack; this module is the load test run against it:

1. Start the stack with a second nginx whose upstream is app process 1 alone
   (`python -m scripts.stack run --compare`), and wait until every port listens.
2. Take the home, category and product paths from the sitemaps and request each once, so that
   every page is on the shelf before anything is measured.
3. Save a new price in the admin of app process 1 and read the product page from every
   process: each must show the new price on its next request.
4. wrk through both nginx in alternation (bench/wrk.py): a short unmeasured run each, then
   ROUNDS rounds, the order swapped every round.
5. Bytes per entry on the shelf (MEMORY USAGE) and how nginx spread the 3-app requests.
6. Write the report (docs/stack.md), keeping the table of every earlier run.

The stack is stopped at the end, as Ctrl-C would stop it, also on an error.
"""

from __future__ import annotations

import html.parser
import http.cookiejar
import itertools
import os
import re
import signal
import statistics
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import redis

from bench import wrk
from bench.run import ROOT, BenchError, Processes
from scripts import services


def say(message: str) -> None:
    print(f"stack: {message}", flush=True)


@dataclass(frozen=True)
class Stack:
    """What the benchmark needs to know of the stack that scripts/stack.py runs."""

    host: str
    port: int  # nginx in front of every app process
    one_app_port: int  # the second nginx (`run --compare`), app process 1 alone behind it
    app_ports: list[int]
    cache_port: int  # the stack's cache Redis
    redis_password: str  # its requirepass (scripts/stack.py's redis_password())
    workers: int  # gunicorn workers per app process
    admin: tuple[str, str]  # username and password of the demo admin
    workdir: Path  # .local/stack: wrk's script and the stack's log go here
    access_log: Path  # the access log of the nginx on `port`
    command: list[str]  # runs the stack with the one-app nginx until SIGINT
    # With the edge cache (Varnish) between the nginx on `port` and the app processes: an nginx
    # straight to the app processes, one to Django's hello world, and varnishd's working folder.
    edge: bool = False
    edge_port: int = 0
    no_edge_port: int = 0
    hello_port: int = 0
    varnish_dir: Path | None = None

    def url(self, port: int) -> str:
        return f"http://{self.host}:{port}"


# A BROWSER
# ------------------------------------------------------------------------------------------------
class FormReader(html.parser.HTMLParser):
    """The fields of <form id=form_id> with their current values, as a browser would send them."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id = form_id
        self.fields: list[tuple[str, str]] = []
        self.in_form = False
        self.done = False
        self._select: str | None = None
        self._first: str | None = None  # a <select> sends its selected option, else its first
        self._chosen: str | None = None
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if self.done:
            return
        if tag == "form" and a.get("id") == self.form_id:
            self.in_form = True
        if not self.in_form or (not a.get("name") and tag != "option"):
            return
        if tag == "input":
            kind = (a.get("type") or "text").lower()
            if kind in ("submit", "button", "file", "image", "reset"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields.append((a["name"], a.get("value") or ("on" if kind == "checkbox" else "")))
        elif tag == "select":
            self._select, self._first, self._chosen = a["name"], None, None
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            if self._first is None:
                self._first = value
            if "selected" in a:
                self._chosen = value
        elif tag == "textarea":
            self._textarea, self._text = a["name"], ""

    def handle_endtag(self, tag):
        if tag == "select" and self._select is not None:
            chosen = self._chosen if self._chosen is not None else self._first
            self.fields.append((self._select, chosen or ""))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self.fields.append((self._textarea, self._text.removeprefix("\n")))
            self._textarea = None
        elif tag == "form" and self.in_form:
            self.in_form, self.done = False, True

    def handle_data(self, data):
        if self._textarea is not None:
            self._text += data


class Browser:
    """A cookie-keeping HTTP client for one base URL (the standard library only)."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), NoRedirect()
        )

    def get(self, path: str) -> tuple[int, str]:
        return self._open(urllib.request.Request(self.base + path))

    def post(self, path: str, fields: list[tuple[str, str]]) -> tuple[int, str]:
        data = urllib.parse.urlencode(fields).encode()
        request = urllib.request.Request(self.base + path, data=data, method="POST")
        request.add_header("Referer", self.base + path)
        request.add_header("Origin", self.base)  # as a browser does; Django checks it (CSRF)
        return self._open(request)

    def _open(self, request) -> tuple[int, str]:
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode(errors="replace")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def csrf_token(page: str) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if not found:
        raise BenchError("no CSRF token on the page")
    return found.group(1)


def price_shown(page: str) -> str | None:
    found = re.search(r'class="price[^"]*"[^>]*>\s*\$([\d,]+\.\d\d)', page)
    return found.group(1).replace(",", "") if found else None


# THE MEASUREMENTS
# ------------------------------------------------------------------------------------------------
def admin_save_is_fresh_everywhere(stack: Stack, slug: str) -> list[str]:
    """Save a new price in the admin of app process 1; read the page from every process."""
    lines = []
    readers = [(f"app {n} (:{p})", stack.url(p)) for n, p in enumerate(stack.app_ports, 1)]
    readers.append((f"nginx (:{stack.port})", stack.url(stack.port)))
    before = {}
    for name, base in readers:  # every process has the page warm before the save
        for _ in range(2):
            status, page = Browser(base).get(f"/p/{slug}/")
        before[name] = price_shown(page)

    def log_in(browser: Browser, where: str) -> None:
        _, login = browser.get("/admin/login/")
        status, _ = browser.post(
            "/admin/login/?next=/admin/",
            [("csrfmiddlewaretoken", csrf_token(login)), ("username", stack.admin[0]),
             ("password", stack.admin[1]), ("next", "/admin/")],
        )  # fmt: skip
        if status != 302:
            raise BenchError(f"admin login {where} answered {status}")

    # A POST through nginx, with the Origin header a browser sends, passes Django's CSRF check.
    log_in(Browser(stack.url(stack.port)), "through nginx")
    admin = Browser(stack.url(stack.app_ports[0]))
    log_in(admin, "on app 1")
    _, page = Browser(readers[0][1]).get(f"/p/{slug}/")
    pid = re.search(r'name="product" value="(\d+)"', page)
    if not pid:
        raise BenchError(f"no product id on /p/{slug}/")
    change = f"/admin/catalog/product/{pid.group(1)}/change/"
    _, form_page = admin.get(change)
    form = FormReader("product_form")
    form.feed(form_page)
    fields = dict(form.fields)
    old = fields["price"]
    new = f"{float(old) + 1.11:.2f}"
    fields_list = [(k, new if k == "price" else v) for k, v in form.fields]
    fields_list.append(("_save", "Save"))
    started = time.monotonic()
    status, body = admin.post(change, fields_list)
    if status != 302:
        errors = re.findall(r'class="errorlist[^"]*">(.*?)</ul>', body, re.S)
        raise BenchError(f"admin save answered {status}: {errors[:3]}")
    saved = time.monotonic() - started
    lines.append("An admin login POSTed through nginx, with a browser's Origin header: 302.")
    lines.append("")
    lines.append(
        f"Saved `{slug}` in the admin of app 1 (:{stack.app_ports[0]}): price {old} -> {new} "
        f"({saved * 1000:.0f} ms). The next request to each process:"
    )
    lines.append("")
    lines.append("| read from | price before the save | price on the next request | fresh |")
    lines.append("| --- | --- | --- | --- |")
    all_fresh = True
    for name, base in readers:
        status, page = Browser(base).get(f"/p/{slug}/")
        shown = price_shown(page)
        fresh = status == 200 and shown == new
        all_fresh &= fresh
        lines.append(f"| {name} | {before[name]} | {shown} | {'yes' if fresh else 'NO'} |")
    if not all_fresh:
        raise BenchError("a process served the old price after the save:\n" + "\n".join(lines))
    return lines


def sample_paths(stack: Stack, limit: int = 300) -> list[str]:
    """Product, category and home paths taken from the sitemaps."""
    browser = Browser(stack.url(stack.port))
    paths = ["/"]
    for section in ("categories", "products"):
        _, xml = browser.get(f"/sitemap-{section}.xml")
        paths += [urllib.parse.urlsplit(u).path for u in re.findall(r"<loc>([^<]+)</loc>", xml)]
    categories = [p for p in paths if p.startswith("/c/")]
    products = [p for p in paths if p.startswith("/p/")][:limit]
    if not products or not categories:
        raise BenchError(f"the sitemaps through :{stack.port} named no product or category page")
    return ["/", *categories, *products]


def run(
    stack: Stack, wrk_binary: str, seconds: int, rounds: int, connections: int, output: Path
) -> int:
    """`make stack-bench`: measure(), then the report `output` (docs/stack.md); 0 when done."""
    measured = measure(stack, wrk_binary, seconds, rounds, connections)
    write_report(stack, output, measured)
    say(f"wrote {output.relative_to(ROOT)}")
    return 0


def measure(
    stack: Stack, wrk_binary: str, seconds: int, rounds: int, connections: int
) -> dict:
    """The whole load test, from starting the stack to stopping it: plain data (JSON), which
    docs/stack.md and `make bench`'s report (bench/report.py's stack section) are written from."""
    stack.workdir.mkdir(parents=True, exist_ok=True)
    processes = Processes(stack.workdir)
    log = stack.workdir / "bench-stack.log"
    log.unlink(missing_ok=True)  # Processes appends; this log is of this run alone
    say(f"starting the stack with a one-app nginx beside it (log: {log})")
    process = processes.start("bench-stack", stack.command, dict(os.environ))
    try:
        needed = [stack.port, stack.one_app_port, *stack.app_ports]
        if stack.edge:
            needed += [stack.edge_port, stack.no_edge_port, stack.hello_port]

        def up() -> bool:
            return all(services.listening(stack.host, port) for port in needed)

        if not services.wait_until(up, 900, interval=1, process=process):
            if process.poll() is not None:
                raise BenchError(f"the stack stopped (exit {process.returncode}); see {log}")
            raise BenchError(f"the stack did not come up in 15 minutes; see {log}")
        say("stack is up")
        paths = sample_paths(stack)
        warm = Browser(stack.url(stack.port))
        for path in paths:  # every page on the shelf before measuring
            warm.get(path)
        product = next(p for p in paths if p.startswith("/p/"))
        fresh_lines = admin_save_is_fresh_everywhere(stack, product.removeprefix("/p/").strip("/"))
        for line in fresh_lines:
            print(line)
        script = wrk.write_script(paths, stack.workdir / "paths.lua")
        three_apps = stack.no_edge_port if stack.edge else stack.port
        setups = {"3 app processes": three_apps, "1 app process": stack.one_app_port}
        results: dict[str, list[dict]] = {name: [] for name in setups}
        for port in setups.values():  # a short unmeasured run each: connections, warm workers
            wrk.run(wrk_binary, stack.url(port), script, 5, connections)
        load = os.getloadavg()[0]
        for round_number in range(rounds):
            order = list(setups) if round_number % 2 == 0 else list(reversed(setups))
            for name in order:
                result = wrk.run(wrk_binary, stack.url(setups[name]), script, seconds, connections)
                results[name].append(result)
                say(
                    f"round {round_number + 1} {name}: {result['rps']:.0f} req/s, p50 "
                    f"{result['p50']}, p99 {result['p99']}, non-2xx {result['non2xx']}"
                )
        edge_lines = edge_figures(stack, wrk_binary, script, paths, seconds, rounds, connections)
        memory = shelf_memory(stack)
        time.sleep(1.5)  # nginx flushes its access log buffer every second
        spread = upstream_spread(stack.workdir / "nginx-no-edge" / "access.log"
                                 if stack.edge else stack.access_log)  # fmt: skip
        return summary(
            stack, results, fresh_lines, memory, spread, edge_lines,
            seconds=seconds, rounds=rounds, connections=connections, paths=len(paths), load=load,
        )  # fmt: skip
    finally:
        say("stopping the stack")
        # SIGINT to the group, as Ctrl-C in a terminal: honcho stops its processes, then
        # scripts/stack.py stops the servers it started. SIGTERM if that hangs, SIGKILL last.
        processes.stop("bench-stack", timeout=120, signals=(signal.SIGINT, signal.SIGTERM))


def summary(
    stack: Stack, results: dict, fresh: list[str], memory: list, spread: dict,
    edge: tuple[str, ...] | list[str] = (), **run: float,
) -> dict:
    """What measure() found, as plain data: `edge` the report's lines on the edge cache, `run`
    holds seconds, rounds, connections, paths and load (the 1-minute load average before the
    first round)."""
    medians = {name: statistics.median(r["rps"] for r in rs) for name, rs in results.items()}
    return {
        "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "app_processes": len(stack.app_ports),
        "workers": stack.workers,
        **run,
        "results": results,
        "medians": medians,
        "ratio": medians["3 app processes"] / medians["1 app process"],
        "fresh": fresh,
        "memory": [list(row) for row in memory],
        "spread": spread,
        "edge": list(edge),
    }


def upstream_spread(log: Path) -> dict[str, int]:
    """Requests per app process as the three-app nginx's access log records them."""
    counts: dict[str, int] = {}
    if log.exists():
        for line in log.read_text(errors="replace").splitlines():
            found = re.search(r'" \d{3} (\S+) [\d.]+$', line)
            if found and found.group(1) != "-":
                counts[found.group(1)] = counts.get(found.group(1), 0) + 1
    return dict(sorted(counts.items()))


MEMORY_KINDS = {
    "catalog.product (a product's card fields)": "catalog.product:v*",
    "shelf:tag:product (its version key)": "shelf:tag:product:*",
    "catalog.page (a rendered product page)": "catalog.page:v*",
    "catalog.listing (a rendered listing page)": "catalog.listing:v*",
    "inventory.stock (a stock level)": "inventory.stock:v*",
}


def shelf_memory(stack: Stack, sample: int = 2000) -> list[tuple[str, int, float]]:
    """(kind, keys sampled, mean MEMORY USAGE bytes) on the stack's own cache Redis."""
    r = redis.Redis(host=stack.host, port=stack.cache_port, password=stack.redis_password)
    rows = []
    for kind, pattern in MEMORY_KINDS.items():
        # SCAN is fine here: a private server of this run, not one shared with sessions.
        keys = list(itertools.islice(r.scan_iter(match=pattern, count=1000), sample))
        sizes = [r.memory_usage(k, samples=0) or 0 for k in keys]
        rows.append((kind, len(keys), statistics.mean(sizes) if sizes else 0.0))
    return rows


def write_report(stack: Stack, output: Path, measured: dict) -> None:
    m = measured
    results, medians, fresh_lines, memory, spread = (
        m["results"], m["medians"], m["fresh"], m["memory"], m["spread"]
    )
    seconds, rounds, connections, paths, load = (
        m["seconds"], m["rounds"], m["connections"], m["paths"], m["load"]
    )
    three, one = medians["3 app processes"], medians["1 app process"]
    rows = []
    for name, runs in results.items():
        each = ", ".join(f"{r['rps']:.0f}" for r in runs)
        bad = sum(r["non2xx"] for r in runs)
        total = sum(r["requests"] for r in runs)
        rows.append(
            f"| {name} | {medians[name]:.0f} | {each} | {runs[0]['p50']} / {runs[0]['p99']} "
            f"| {total} | {bad} |"
        )
    cpus = os.cpu_count()
    total = sum(spread.values()) or 1
    spread_text = (
        ", ".join(f"{addr} {n} ({n / total:.0%})" for addr, n in spread.items()) or "no access log"
    )
    memory_rows = "\n".join(f"| {kind} | {n} | {mean:.0f} |" for kind, n, mean in memory)
    workers = stack.workers
    text = f"""# `make stack`: throughput through nginx, 3 app processes against 1

Measured by `make stack-bench` (scripts/stack.py bench) on {time.strftime("%Y-%m-%d")}: one run
of the stack (nginx, {len(stack.app_ports)} gunicorn processes of {workers} workers each, a
Celery worker and beat, PostgreSQL, the cache, state and broker Redis on their own ports), with a
second nginx whose upstream is app process 1 alone. The same load goes through both nginx in
alternation: {rounds} rounds of {seconds} s each, the order swapped every round, after a 5 s
warm-up each (1-minute load average before the first round: {load:.1f}).

Load: `wrk -t 2 -c {connections} -d {seconds}s --latency -s .local/stack/paths.lua`, cycling over
{paths} paths (the home page, every category page, product pages) that are all on the shelf.
Machine: `nproc` = {cpus}. wrk, nginx, all app processes, PostgreSQL and Redis share these
{cpus} cores.

| upstream | median req/s | each round | p50 / p99 latency (round 1) | requests | non-2xx |
| --- | --- | --- | --- | --- | --- |
{chr(10).join(rows)}

**Ratio 3 apps / 1 app: {three / one:.2f}.**

How nginx spread the requests of the 3-app runs (from its access log, `$upstream_addr`):
{spread_text}.

What the ratio means here: this machine has {cpus} cores, shared by wrk, nginx, every app
process, PostgreSQL and Redis, and during this run by other work as well (the load average
above). A warm page costs no SQL but two Redis round trips, during which a sync worker waits:
one app process has {workers} workers to overlap that waiting, three have {3 * workers}. So part
of the gain is more requests in flight, not more CPU, and on a machine busy with other work
more processes also win a larger share of the scheduler, which flatters the 3-app figure; the
spread between rounds shows how noisy a shared 2-core machine is. The ratio does not show that
three app servers triple throughput: on {cpus} cores they cannot. It shows that nginx spreads
the load evenly over the three processes, with no errors. On three
machines each app process brings its own cores; the ceiling is then the shared parts (nginx,
the cache Redis, PostgreSQL on misses): see "Running in production" in the README.

## An admin save is fresh on every app process on the next request

{chr(10).join(fresh_lines)}

The processes share no memory: each reads the shelf in the cache Redis, and the save bumped the
product's tags there after the commit, so every process's next read finds its entry invalid
(or the written-through new one) instead of an old copy.

## Bytes per entry on the shelf

`MEMORY USAGE` (key, value and Redis's overhead) of the entries this run left on the cache
Redis (up to 2,000 keys of each kind, after the load above); the README's sizing uses them.

| entry | keys sampled | mean bytes |
| --- | --- | --- |
{memory_rows}
"""
    edge_lines = m.get("edge", [])
    text += "\n".join(edge_lines) + ("\n" if edge_lines else "")
    text += runs_section(output, results, medians, load)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)


RUNS_HEADER = "## Runs so far"


def runs_section(output: Path, results: dict, medians: dict, load: float) -> str:
    """The table of every run written to `output` so far, this one added at the bottom."""
    previous = output.read_text() if output.exists() else ""
    rows = []
    if RUNS_HEADER in previous:
        rows = [
            line
            for line in previous.split(RUNS_HEADER, 1)[1].splitlines()
            if line.startswith("| 2")  # data rows start with their date
        ]
    three, one = results["3 app processes"], results["1 app process"]

    def each(runs: list[dict]) -> str:
        return ", ".join(f"{r['rps']:.0f}" for r in runs)

    rows.append(
        f"| {time.strftime('%Y-%m-%d %H:%M')} | {load:.1f} "
        f"| {medians['3 app processes']:.0f} ({each(three)}) "
        f"| {medians['1 app process']:.0f} ({each(one)}) "
        f"| {medians['3 app processes'] / medians['1 app process']:.2f} |"
    )
    per_round = [a["rps"] / b["rps"] for a, b in zip(three, one, strict=True)]
    ahead = sum(ratio > 1 for ratio in per_round)
    return f"""
{RUNS_HEADER}

Every `make stack-bench` adds a row here; the sections above are the latest run's.

| date | load average | 3 apps, median req/s (rounds) | 1 app, median req/s (rounds) | ratio |
| --- | --- | --- | --- | --- |
{chr(10).join(rows)}

In the latest run the ratio within a round (3 apps / 1 app, the two runs next to each other)
went from {min(per_round):.2f} to {max(per_round):.2f}; 3 apps were ahead in {ahead} of
{len(per_round)} rounds. On a 2-core machine shared with other work the size of the gap varies
from run to run and round to round; compare medians, and only across many runs.
"""


# THE EDGE CACHE
# ------------------------------------------------------------------------------------------------
def varnish_counters(stack: Stack) -> dict[str, int]:
    """Varnish's hit, miss and pass counters (varnishstat), or {} if they cannot be read."""
    import shutil
    import subprocess

    varnishstat = shutil.which("varnishstat") or shutil.which("varnishstat", path="/usr/bin")
    if not varnishstat or stack.varnish_dir is None:
        return {}
    out = subprocess.run(
        [varnishstat, "-n", str(stack.varnish_dir / "instance"), "-1",
         "-f", "MAIN.cache_hit", "-f", "MAIN.cache_miss", "-f", "MAIN.s_pass"],
        capture_output=True, text=True,
    ).stdout  # fmt: skip
    return {m[1]: int(m[2]) for m in re.finditer(r"^MAIN\.(\w+)\s+(\d+)", out, re.M)}


def histogram_quantile(buckets: list[tuple[float, float]], q: float) -> float:
    """The q-quantile of a Prometheus histogram's cumulative (upper bound, count) buckets, by
    linear interpolation inside the bucket, as PromQL's histogram_quantile does."""
    total = buckets[-1][1]
    rank = q * total
    lower, below = 0.0, 0.0
    for upper, count in buckets:
        if count >= rank:
            if upper == float("inf"):
                return lower
            return lower + (upper - lower) * (rank - below) / max(count - below, 1e-12)
        lower, below = upper, count
    return lower


def purge_buckets(stack: Stack) -> list[tuple[float, float]]:
    """shelf_edge_purge_seconds of app process 1 (where the admin saves), from its /metrics."""
    _, text = Browser(stack.url(stack.app_ports[0])).get("/metrics")
    found = re.findall(r'^shelf_edge_purge_seconds_bucket\{le="([^"]+)"\} ([\d.e+]+)$', text, re.M)
    return sorted((float(le), float(n)) for le, n in found)


def admin_saves_through_the_edge(stack: Stack, slug: str, count: int) -> tuple[int, int]:
    """`count` price saves in the admin of app 1, each followed by a read of the page through
    the edge; returns (saves, reads that showed an old price)."""
    admin = Browser(stack.url(stack.app_ports[0]))
    _, login = admin.get("/admin/login/")
    admin.post(
        "/admin/login/?next=/admin/",
        [("csrfmiddlewaretoken", csrf_token(login)), ("username", stack.admin[0]),
         ("password", stack.admin[1]), ("next", "/admin/")],
    )  # fmt: skip
    edge = Browser(stack.url(stack.port))
    _, page = edge.get(f"/p/{slug}/")
    pid = re.search(r'name="product" value="(\d+)"', page)
    if not pid:
        raise BenchError(f"no product id on /p/{slug}/")
    change = f"/admin/catalog/product/{pid.group(1)}/change/"
    stale = 0
    for _ in range(count):
        edge.get(f"/p/{slug}/")  # kept at the edge before the save
        _, form_page = admin.get(change)
        form = FormReader("product_form")
        form.feed(form_page)
        new = f"{float(dict(form.fields)['price']) + 0.01:.2f}"
        fields = [(k, new if k == "price" else v) for k, v in form.fields] + [("_save", "Save")]
        status, _ = admin.post(change, fields)
        if status != 302:
            raise BenchError(f"admin save answered {status}")
        _, page = Browser(stack.url(stack.port)).get(f"/p/{slug}/")
        stale += price_shown(page) != new
    return count, stale


def edge_figures(
    stack: Stack, wrk_binary: str, script: Path, paths: list[str], seconds: int, rounds: int,
    connections: int,
) -> list[str]:
    """Anonymous pages through the edge against the same pages through the app processes alone,
    and against Django's hello world; the edge's hit rate; purge latency. The report's lines."""
    if not stack.edge:
        return ["", "## The edge cache", "",
                "Not measured: this run had no Varnish (see `make stack`'s output)."]  # fmt: skip
    hello = wrk.write_script(["/"], stack.workdir / "hello.lua")
    setups = {
        "through the edge": (stack.port, script),
        "app processes alone": (stack.no_edge_port, script),
        "Django hello world": (stack.hello_port, hello),
    }
    for port, lua in setups.values():  # warm-up, unmeasured: the edge fills here
        wrk.run(wrk_binary, stack.url(port), lua, 5, connections)
    before = varnish_counters(stack)
    results: dict[str, list[dict]] = {name: [] for name in setups}
    names = list(setups)
    load = os.getloadavg()[0]
    for round_number in range(rounds):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            port, lua = setups[name]
            result = wrk.run(wrk_binary, stack.url(port), lua, seconds, connections)
            results[name].append(result)
            say(
                f"edge round {round_number + 1} {name}: {result['rps']:.0f} req/s, "
                f"p50 {result['p50']}, p99 {result['p99']}, non-2xx {result['non2xx']}"
            )
    after = varnish_counters(stack)
    hits = after.get("cache_hit", 0) - before.get("cache_hit", 0)
    lookups = hits + after.get("cache_miss", 0) - before.get("cache_miss", 0)
    passes = after.get("s_pass", 0) - before.get("s_pass", 0)
    product = next(p for p in paths if p.startswith("/p/"))
    saves, stale = admin_saves_through_the_edge(stack, product.removeprefix("/p/").strip("/"), 100)
    buckets = purge_buckets(stack)
    medians = {n: statistics.median(r["rps"] for r in runs) for n, runs in results.items()}
    edge, alone, hello_rps = (medians[n] for n in names)
    rows = [
        f"| {name} | {medians[name]:.0f} | {', '.join(format(r['rps'], '.0f') for r in runs)} "
        f"| {runs[0]['p50']} / {runs[0]['p99']} | {sum(r['non2xx'] for r in runs)} |"
        for name, runs in results.items()
    ]
    if buckets and buckets[-1][1]:
        p50, p99 = (histogram_quantile(buckets, q) * 1000 for q in (0.5, 0.99))
        purge = (f"{p50:.1f} ms p50, {p99:.1f} ms p99 over {buckets[-1][1]:.0f} purges "
                 "(app process 1's `shelf_edge_purge_seconds`)")  # fmt: skip
    else:
        purge = "no purge recorded (is SHELF_EDGE_CACHES set for the app processes?)"
    hit_rate = f"{hits / lookups:.1%} of {lookups} lookups" if lookups else "no lookups counted"
    return [
        "",
        "## The edge cache: anonymous pages through Varnish",
        "",
        f"The same {len(paths)} paths (home, every category, product pages), without cookies, "
        f"through nginx to the edge cache (Varnish, docker/varnish/shelf.vcl) and through nginx "
        f"straight to the {len(stack.app_ports)} app processes; and Django's hello world "
        f"(bench/hello.py, {stack.workers * len(stack.app_ports)} workers, through nginx too). "
        f"Same run, {rounds} rounds of {seconds} s, the order rotated every round, after a 5 s "
        f"warm-up each (load average before: {load:.1f}). On a shared machine the absolute "
        "figures move with the other work on it; the ratios, from the same minutes, are what "
        "to compare.",
        "",
        "| upstream | median req/s | each round | p50 / p99 latency (round 1) | non-2xx |",
        "| --- | --- | --- | --- | --- |",
        *rows,
        "",
        f"**Through the edge / app processes alone: {edge / alone:.2f}. Through the edge / "
        f"Django's hello world: {edge / hello_rps:.2f}.**",
        "",
        f"Edge hit rate during the measured rounds: {hit_rate} ({passes} passed through).",
        "",
        f"Freshness through the edge: {saves} price saves in the admin of app 1, each followed "
        f"by a read of the page through nginx and the edge: {stale} showed the old price.",
        "",
        f"Purge latency, from the start of the bump after the commit to the edge's answer to "
        f"the purge: {purge}.",
        "",
        "When the edge is worth it and what it costs (memory per page, purges per save): the "
        'README\'s "The edge cache".',
    ]
