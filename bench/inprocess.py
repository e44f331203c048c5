"""Microseconds per shelf hit inside one process, and where a product-page hit spends them.

Run by bench/run.py after the ceiling phases, with the bench settings and SHELF_ENABLED=true,
against the bench database and Redis (the shelf is warm by then):

    python -m bench.inprocess --workload .local/bench/workload.json --out inprocess.json

Each request goes through Django's WSGI handler, as gunicorn calls it: the whole middleware
stack, the view, the response consumed and closed (request_finished). No sockets, no other
process: what is left is the application's own time plus its round trips to Redis. After
warming every page it times `--requests` requests of each kind one by one (medians), then runs
cProfile over as many product-page hits and keeps the functions with the most own time. Each
of these stops early after `--seconds`, so that a busy machine does not make it a long step.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import itertools
import json
import os
import pstats
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.bench")
django.setup()

from django.conf import settings  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402

from bench.workload import Catalog, hit_paths  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
# Products in the "random of the warmed set" kind: the most popular ones, all warmed first.
WARMED_PRODUCTS = 200
PROFILE_TOP = 15

_handler = WSGIHandler()
_addresses = itertools.count()


def _environ(url: str) -> dict:
    url, _, session = url.partition(" ")
    path, _, query = url.partition("?")
    # Another client address per request, as the production proxy reports it: per-client
    # limits (shop.security) must not turn thousands of requests into 429s.
    n = next(_addresses)
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SCRIPT_NAME": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_X_FORWARDED_FOR": f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        **({"HTTP_COOKIE": f"{settings.SESSION_COOKIE_NAME}={session}"} if session else {}),
    }


def request(url: str) -> tuple[str, int | None]:
    """GET `url` through the WSGI handler; return the status line and its X-Shelf-Calls.

    `url` may end in a space and a session key: the request carries that session's cookie."""
    answer: dict = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info=None) -> None:
        answer["status"] = status
        answer["calls"] = dict(headers).get("X-Shelf-Calls")

    body = _handler(_environ(url), start_response)
    try:
        for _ in body:
            pass
    finally:
        body.close()
    calls = answer.get("calls")
    return answer["status"], int(calls) if calls is not None else None


def timed(urls: Iterable[str], seconds: float) -> dict:
    """Time each request on its own, for at most `seconds` in all; fail loudly on anything but
    200 (a broken page is fast)."""
    times, calls = [], []
    deadline = time.monotonic() + seconds
    for url in urls:
        if time.monotonic() > deadline:
            break
        started = time.perf_counter_ns()
        status, n = request(url)
        times.append((time.perf_counter_ns() - started) / 1000)
        if not status.startswith("200"):
            raise SystemExit(f"inprocess: {url} answered {status}")
        if n is not None:
            calls.append(n)
    return {
        "requests": len(times),
        "median_us": round(statistics.median(times), 1),
        "p90_us": round(statistics.quantiles(times, n=10)[-1], 1),
        "calls_per_request": round(statistics.fmean(calls), 2) if calls else None,
    }


def _where(key: tuple[str, int, str]) -> str:
    filename, line, name = key
    if filename == "~":  # a builtin, e.g. <method 'recv_into' of '_socket.socket' objects>
        return name
    for prefix in sorted(map(str, {*sys.path, ROOT}), key=len, reverse=True):
        if prefix and filename.startswith(prefix + os.sep):
            filename = filename[len(prefix) + 1 :]
            break
    return f"{filename}:{line}({name})"


def profile(run: Callable[[], int]) -> dict:
    """cProfile `run` (which returns how many requests it sent); the top functions by own
    time, per hit."""
    profiler = cProfile.Profile()
    profiler.enable()
    hits = run()
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = sum(tt for _, _, tt, _, _ in stats.values())
    top = sorted(stats.items(), key=lambda item: item[1][2], reverse=True)[:PROFILE_TOP]
    return {
        "hits": hits,
        "total_us_per_hit": round(total / hits * 1e6, 1),
        "functions": [
            {
                "function": _where(key),
                "calls_per_hit": round(nc / hits, 2),
                "own_us_per_hit": round(tt / hits * 1e6, 2),
                "cumulative_us_per_hit": round(ct / hits * 1e6, 1),
            }
            for key, (_, nc, tt, ct, _) in top
        ],
    }


def decompression(keys: list[str]) -> dict:
    """Microseconds to turn a stored page entry into its value, compressed as stored against
    the same entry stored plain (what an L1 miss pays once per process and page)."""
    from django_redis import get_redis_connection

    from shelf.core import entry_bytes, entry_envelope

    raws = [raw for raw in get_redis_connection("default").mget(keys) if raw]
    plain = [entry_bytes(entry_envelope(raw)) for raw in raws]

    def per_entry(entries: list[bytes]) -> float:
        started = time.perf_counter()
        for _ in range(5):
            for raw in entries:
                entry_envelope(raw)
        return (time.perf_counter() - started) / max(1, 5 * len(entries)) * 1e6

    return {
        "pages": len(raws),
        "stored_bytes": statistics.median(map(len, raws)) if raws else None,
        "plain_bytes": statistics.median(map(len, plain)) if plain else None,
        "compressed_us": per_entry(raws),
        "plain_us": per_entry(plain),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", type=Path, required=True, help="bench/prepare.py's file")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--requests", type=int, default=3000, help="per kind of request")
    parser.add_argument("--seconds", type=float, default=6.0, help="at most, per kind")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    began = time.monotonic()
    catalog = Catalog.load(args.workload)
    rng = random.Random(args.seed)
    n = args.requests
    products = [f"/p/{slug}/" for _, slug in catalog.products[:WARMED_PRODUCTS]]
    kinds = {
        "product_fixed": [products[0]],
        "product_warmed": products,
        # The same pages, each request signed in as one of the bench's shoppers.
        "product_signed_in": [
            f"{url} {session}" for url, session in zip(products, itertools.cycle(catalog.sessions))
        ],
        "category": hit_paths(catalog, "category"),
        "home": hit_paths(catalog, "home"),
        "search": hit_paths(catalog, "search"),
        "prerendered": ["/bench/prerendered/"],
    }
    # Twice: the first request may build the page, the second finds it on the shelf.
    for urls in kinds.values():
        for url in urls * 2:
            request(url)
    results = {
        kind: timed((rng.choice(urls) for _ in range(n)), args.seconds)
        for kind, urls in kinds.items()
    }
    draws = [rng.choice(products) for _ in range(n)]
    results["profile"] = profile(lambda: timed(draws, args.seconds)["requests"])
    signed_in = [rng.choice(kinds["product_signed_in"]) for _ in range(n)]
    results["profile_signed_in"] = profile(lambda: timed(signed_in, args.seconds)["requests"])
    results["decompression"] = decompression(
        [catalog.keys["page"].format(slug) for _, slug in catalog.products[:WARMED_PRODUCTS]]
    )
    results["seconds"] = round(time.monotonic() - began, 1)
    args.out.write_text(json.dumps(results, indent=1))
    sent = ", ".join(f"{kind} {results[kind]['requests']}" for kind in kinds)
    print(f"inprocess: {sent} requests and a profile of {results['profile']['hits']} product "
          f"hits in {results['seconds']} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
