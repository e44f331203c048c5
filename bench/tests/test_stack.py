"""`make stack-bench` without the stack: wrk's output, the report, stopping the stack."""

import signal
import sys
from pathlib import Path

from bench import stack, wrk
from bench.run import Processes
from scripts import services

# What wrk 4 prints with --latency (a real run against a static server; some paths 404).
WRK_OUTPUT = """\
Running 2s test @ http://127.0.0.1:18777
  2 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     8.16ms    7.05ms  46.73ms   81.26%
    Req/Sec   270.38    134.17   732.00     70.00%
  Latency Distribution
     50%    6.15ms
     75%   11.58ms
     90%   17.06ms
     99%   31.46ms
  1090 requests in 2.03s, 322.26KB read
  Socket errors: connect 0, read 2, write 0, timeout 0
  Non-2xx or 3xx responses: 363
Requests/sec:    537.45
Transfer/sec:    158.90KB
"""

STACK = stack.Stack(
    host="127.0.0.1", port=8080, one_app_port=8081, app_ports=[8101, 8102, 8103],
    cache_port=6380, redis_password="pw", workers=2, admin=("admin", "pw"),
    workdir=Path("/nonexistent"),
    access_log=Path("/nonexistent/access.log"), command=[],
)  # fmt: skip


def test_wrk_output_is_read_into_numbers():
    assert wrk.parse(WRK_OUTPUT) == {
        "rps": 537.45, "requests": 1090, "non2xx": 363,
        "socket_errors": "connect 0, read 2, write 0, timeout 0", "p50": "6.15ms", "p99": "31.46ms",
    }  # fmt: skip
    clean = wrk.parse(WRK_OUTPUT.replace("  Non-2xx or 3xx responses: 363\n", ""))
    assert clean["non2xx"] == 0


def test_the_wrk_script_lists_every_path_once(tmp_path):
    script = wrk.write_script(["/", '/p/a "quoted"/'], tmp_path / "paths.lua")
    text = script.read_text()
    assert '  "/",\n  "/p/a \\"quoted\\"/"\n}' in text
    assert "i = i % #paths + 1" in text


def test_upstream_spread_counts_the_access_log(tmp_path):
    log = tmp_path / "access.log"
    log.write_text(
        '127.0.0.1 [x] "GET / HTTP/1.1" 200 127.0.0.1:8101 0.004\n'
        '127.0.0.1 [x] "GET /p/a/ HTTP/1.1" 200 127.0.0.1:8102 0.010\n'
        '127.0.0.1 [x] "GET /p/b/ HTTP/1.1" 200 127.0.0.1:8101 0.003\n'
        '127.0.0.1 [x] "GET /bad HTTP/1.1" 400 - 0.000\n'
    )
    assert stack.upstream_spread(log) == {"127.0.0.1:8101": 2, "127.0.0.1:8102": 1}
    assert stack.upstream_spread(tmp_path / "missing.log") == {}


def _runs(*rps: float) -> list[dict]:
    return [{**wrk.parse(WRK_OUTPUT), "rps": r, "non2xx": 0} for r in rps]


def test_the_report_adds_a_row_to_the_runs_so_far(tmp_path):
    output = tmp_path / "stack.md"
    results = {"3 app processes": _runs(300, 330, 310), "1 app process": _runs(200, 220, 100)}
    memory = [("catalog.product (a product's card fields)", 10, 470.4)]
    spread = {"127.0.0.1:8101": 1, "127.0.0.1:8102": 1, "127.0.0.1:8103": 2}
    measured = stack.summary(
        STACK, results, ["fresh"], memory, spread,
        seconds=10, rounds=3, connections=16, paths=349, load=1.5,
    )  # fmt: skip
    for _ in range(2):
        stack.write_report(STACK, output, measured)
    text = output.read_text()
    assert text.startswith("# `make stack`: throughput through nginx, 3 app processes against 1")
    assert "| 3 app processes | 310 | 300, 330, 310 | 6.15ms / 31.46ms | 3270 | 0 |" in text
    assert "**Ratio 3 apps / 1 app: 1.55.**" in text
    assert "127.0.0.1:8103 2 (50%)" in text
    assert "| catalog.product (a product's card fields) | 10 | 470 |" in text
    runs = text.split(stack.RUNS_HEADER, 1)[1]
    assert runs.count("| 310 (300, 330, 310) | 200 (200, 220, 100) | 1.55 |") == 2
    assert "went from 1.50 to 3.10; 3 apps were ahead in 3 of\n3 rounds" in runs


def test_the_stack_is_stopped_with_sigint_then_harder(tmp_path):
    processes = Processes(tmp_path)
    ready = "import signal, time; {} print(flush=True); time.sleep(60)"
    # Python's own SIGINT handling, even if this suite was started with SIGINT ignored (as a
    # background job of a shell without job control is, and its children inherit that).
    default = "signal.signal(signal.SIGINT, signal.default_int_handler);"
    polite = processes.start("polite", [sys.executable, "-c", ready.format(default)], {})
    deaf = processes.start(
        "deaf",
        [sys.executable, "-c", ready.format("signal.signal(signal.SIGINT, signal.SIG_IGN); "
                                            "signal.signal(signal.SIGTERM, signal.SIG_IGN);")],
        {},
    )  # fmt: skip
    # Signals only once each has printed its line: its handlers are set by then.
    logs = [tmp_path / f"{name}.log" for name in ("polite", "deaf")]
    assert services.wait_until(lambda: all(log.read_text() for log in logs), 10)
    processes.stop("polite", timeout=5, signals=(signal.SIGINT, signal.SIGTERM))
    assert polite.returncode == -signal.SIGINT  # SIGINT was enough
    processes.stop("deaf", timeout=0.2, signals=(signal.SIGINT, signal.SIGTERM))
    assert deaf.returncode == -signal.SIGKILL
    assert not processes.running
