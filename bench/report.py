"""Turn bench/run.py's raw results into docs/benchmarks.{md,json,png}.

    .venv/bin/python -m bench.report [.local/bench/results.json]   # write the report again

Every number comes from the measured windows only (after each phase's warm-up): latencies and
counts from the load generator's own samples, SQL from PostgreSQL's pg_stat_database, hit
rates from the shelf's counters and Redis's INFO, all as differences across the window. The
in-process timings and the staleness after commit are bench/inprocess.py's and
bench/staleness.py's own results.

A sample is [start, page type, ms, status, X-SQL-Count, failed, product path, X-Shelf-Calls];
samples of earlier runs have no eighth field (their cache-Redis calls are unknown).
"""

from __future__ import annotations

import json
import re
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from bench.workload import zipf
from shelf.percentiles import percentile

ROOT = Path(__file__).resolve().parent.parent
PAGE_TYPES = ("product", "category", "search", "cart_add", "checkout")
CONFIGS = ("on", "off")
SEED_CLAIMS = {"hit_rate": 0.80, "db_load_reduction": 0.80, "latency_reduction": 0.70}
BUDGET_BYTES = 2048
CEILING_PHASES = (
    ("ceiling-bare", "bare"),
    ("ceiling-prerendered", "prerendered"),
    ("product-only-on", "product_on"),
    ("product-replay-on", "product_replay"),
    ("product-only-off", "product_off"),
    ("product-hit-on", "product_hit"),
    ("home-hit-on", "home_hit"),
    ("category-hit-on", "category_hit"),
    ("search-hit-on", "search_hit"),
    ("product-signed-in-on", "product_signed_in"),
)
CEILING_LABELS = {
    "bare": "Bare Django view (no database, no cache)",
    "prerendered": "One pre-rendered page from Redis",
    "product_on": "Product pages, shelf on (fresh Zipf draws)",
    "product_replay": "Product pages, shelf on (the same requests again: all on the shelf)",
    "product_off": "Product pages, shelf off",
    "product_hit": "The 1,000 most popular product pages, shelf on (all hits)",
    "home_hit": "Home page, shelf on (all hits)",
    "category_hit": "First page of each category, shelf on (all hits)",
    "search_hit": "The 30 most frequent searches, shelf on (all hits)",
    "product_signed_in": "The 1,000 most popular product pages, signed in, shelf on (all hits)",
}
# The targets for hits of each kind of page: req/s as a share of the one pre-rendered
# page from Redis, measured by the same gunicorn in the same run.
# Each with the shelf namespace whose hit rate says whether the phase really served hits.
HIT_TARGETS = (
    ("Product page (the 1,000 most popular)", "product_hit", 1.00, "catalog.page"),
    ("Home page", "home_hit", 0.90, "catalog.home"),
    ("Category listing (first page of each category)", "category_hit", 0.90, "catalog.listing"),
    ("Search results (the 30 most frequent queries)", "search_hit", 0.80, "search.page"),
    ("Product page, signed in", "product_signed_in", 0.80, "catalog.page"),
)
ZERO_CALL_GOAL = 0.75  # share of product views served with 0 cache-role round trips
# The product phases whose share of views with 0 cache-Redis calls is a target.
ZERO_CALL_PHASES = (
    ("product_on", "fresh draws"),
    ("product_replay", "all on the shelf"),
    ("product_signed_in", "signed in"),
)


# NUMBERS
# ------------------------------------------------------------------------------------------------
def _samples(result: dict) -> list[list]:
    """The samples that started and finished inside the measured window."""
    start, end = result["window"]
    kept = []
    with open(result["samples"]) as lines:
        for line in lines:
            sample = json.loads(line)
            t, latency = sample[0], sample[2]
            if t >= start and t + latency / 1000 <= end:
                kept.append(sample)
    return kept


def _failed(sample: list) -> bool:
    """No answer, or an error status (redirects are the expected answer to a form)."""
    return bool(sample[5]) or not 200 <= sample[3] < 400


def _calls(sample: list) -> int | None:
    """The sample's cache-Redis calls (X-Shelf-Calls), None where not recorded."""
    return sample[7] if len(sample) > 7 else None


def _latency(samples: list[list], seconds: float) -> dict:
    """Counts, throughput and latencies of answered requests; errors counted apart."""
    failed = [s for s in samples if _failed(s)]
    samples = [s for s in samples if not _failed(s)]
    times = [s[2] for s in samples]
    sql = [s[4] for s in samples if s[4] is not None]
    calls = [n for n in map(_calls, samples) if n is not None]
    statuses = defaultdict(int)
    for sample in failed:
        statuses[str(sample[3] or "no answer")] += 1
    return {
        "requests": len(samples),
        "rps": round(len(samples) / seconds, 1) if seconds else None,
        "p50_ms": _r(percentile(times, 50)),
        "p95_ms": _r(percentile(times, 95)),
        "p99_ms": _r(percentile(times, 99)),
        "errors": len(failed),
        "error_statuses": dict(statuses),
        "zero_sql_share": round(sum(1 for n in sql if n == 0) / len(sql), 4) if sql else None,
        "app_sql_per_request": round(sum(sql) / len(sql), 3) if sql else None,
        "zero_calls_share": round(calls.count(0) / len(calls), 4) if calls else None,
        "calls_per_request": round(sum(calls) / len(calls), 3) if calls else None,
    }


def _r(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def hit_rates(shelf: dict[str, int]) -> dict[str, dict]:
    """Per namespace, as shop.ops.Rate counts them: (hit + stale) / lookups."""
    by_ns: dict[str, dict[str, int]] = defaultdict(dict)
    for key, n in shelf.items():
        namespace, _, result = key.rpartition(":")
        by_ns[namespace][result] = n
    out = {}
    for namespace, counts in sorted(by_ns.items()):
        served = counts.get("hit", 0) + counts.get("stale", 0)
        lookups = served + counts.get("miss", 0) + counts.get("bypass", 0)
        if lookups:
            out[namespace] = {
                "lookups": lookups,
                "hit_rate": round(served / lookups, 4),
                "loads": counts.get("load", 0),
                "stale": counts.get("stale", 0),
                "misses": counts.get("miss", 0),
                "errors": counts.get("error", 0),
            }
    return out


def summarize_config(phases: list[dict]) -> dict:
    """Pool the measured phases of one configuration: samples, windows and counter deltas."""
    samples: list[list] = []
    seconds = 0.0
    pg: dict[str, int] = defaultdict(int)
    redis_counts: dict[str, int] = defaultdict(int)
    shelf: dict[str, int] = defaultdict(int)
    lags: list[float] = []
    per_round = []
    for phase in phases:
        result = phase["result"]
        kept = _samples(result)
        window = result["window"][1] - result["window"][0]
        samples += kept
        seconds += window
        for source, target in ((result["pg"], pg), (result["redis"], redis_counts),
                               (result["shelf"], shelf)):  # fmt: skip
            for k, v in source.items():
                target[k] += v
        lags += result["lags"]
        per_round.append({
            "phase": phase["name"], "rps": round(len(kept) / window, 1),
            "seconds": round(window, 1), "loadavg": result["loadavg"],
        })  # fmt: skip
    views = len(samples)
    transactions = pg["xact_commit"] + pg["xact_rollback"]
    keyspace = redis_counts["keyspace_hits"] + redis_counts["keyspace_misses"]
    by_type = {
        t: _latency([s for s in samples if s[1] == t], seconds)
        for t in (*PAGE_TYPES, "home", "bare", "prerendered")
        if any(s[1] == t for s in samples)
    }
    products = [x for x in samples if x[1] == "product" and not _failed(x)]
    split = {
        "hit": _latency([x for x in products if x[4] == 0], seconds),
        "miss": _latency([x for x in products if x[4]], seconds),
    }
    return {
        "seconds": round(seconds, 1),
        "all": _latency(samples, seconds),
        "by_type": by_type,
        "product_split": split if products else {},
        "rounds": per_round,
        "postgres": {
            "transactions": transactions,
            "transactions_per_view": round(transactions / views, 3) if views else None,
            "rows_read_per_view": round((pg["tup_returned"] + pg["tup_fetched"]) / views, 1)
            if views
            else None,
            "rows_written": pg["tup_inserted"] + pg["tup_updated"] + pg["tup_deleted"],
            "blocks_per_view": round((pg["blks_hit"] + pg["blks_read"]) / views, 1)
            if views
            else None,
        },
        "redis": {
            "keyspace_hits": redis_counts["keyspace_hits"],
            "keyspace_misses": redis_counts["keyspace_misses"],
            "keyspace_hit_rate": round(redis_counts["keyspace_hits"] / keyspace, 4)
            if keyspace
            else None,
            "evicted_keys": redis_counts["evicted_keys"],
            "commands_per_view": round(redis_counts["total_commands_processed"] / views, 1)
            if views
            else None,
        },
        "shelf": hit_rates(dict(shelf)),
        "write_behind": {
            "samples": len(lags),
            "lag_p50_s": _r(percentile(lags, 50), 2),
            "lag_p99_s": _r(percentile(lags, 99), 2),
        },
    }


def _median(values: list[int]) -> float | None:
    return statistics.median(values) if values else None


def cold_tail(results: dict) -> dict[str, float]:
    """Per measured shelf-on phase: the share of its product-page views that asked for a
    product no earlier request to the shelf-on gunicorn had asked for (since the shelf was
    emptied). A whole-page shelf cannot have those pages: 1 minus this share bounds the
    `catalog.page` hit rate, whatever the shelf does."""
    seen: set[str] = set()
    shares = {}
    for phase in results["phases"]:
        if phase["target"] != "on" or not phase["result"]:
            continue
        start, end = phase["result"]["window"]
        first = views = 0
        with open(phase["result"]["samples"]) as lines:
            for line in lines:
                sample = json.loads(line)
                path = sample[6] if len(sample) > 6 else ""
                if not path:
                    continue
                measured = sample[0] >= start and sample[0] + sample[2] / 1000 <= end
                if measured and phase["seconds"]:
                    views += 1
                    first += path not in seen
                seen.add(path)
        if views:
            shares[phase["name"]] = round(first / views, 4)
    return shares


def summarize(results: dict) -> dict:
    phases = {p["name"]: p for p in results["phases"]}
    rounds = [p for p in results["phases"] if p["name"].split("-")[0] in CONFIGS]
    configs = {
        c: summarize_config([p for p in rounds if p["target"] == c and not p["only"]])
        for c in CONFIGS
    }
    ceiling = {}
    for name, key in CEILING_PHASES:
        # One phase, or one per ceiling round (`<name>-r1`, `-r2`, ...; bench/run.py).
        found = [
            p for n, p in phases.items() if p["result"] and re.fullmatch(rf"{name}(-r\d+)?", n)
        ]
        if found:
            summary = summarize_config(found)
            ceiling[key] = {
                **summary["all"],
                "rounds": summary["rounds"],
                "postgres": summary["postgres"],
                "redis": summary["redis"],
                "shelf": summary["shelf"],
            }
    memory = results["memory"]
    entry, tag = _median(memory["entry_bytes"]), _median(memory["tag_bytes"])
    per_product = entry + tag if entry is not None and tag is not None else None
    # Everything a product page view reads: page, card entry, stock entry and their tags.
    parts = [
        _median(memory.get(k) or [])
        for k in ("page_bytes", "entry_bytes", "tag_bytes", "stock_bytes", "stock_tag_bytes")
    ]
    whole = sum(parts) if None not in parts else None
    summary = {
        "command": results["command"],
        "finished": results["finished"],
        "wall_seconds": results["wall_seconds"],
        "machine": results["machine"],
        "catalog": results["catalog"],
        "config": results["config"],
        "on": configs["on"],
        "off": configs["off"],
        "ceiling": ceiling,
        "first_time_product_views": cold_tail(results),
        "memory": {
            "sampled_products": len(memory["entry_bytes"]),
            "entry_bytes_median": entry,
            "version_key_bytes_median": tag,
            "per_product_bytes": per_product,
            "json_value_bytes_median": _median(memory["value_bytes"]),
            "page_bytes_median": _median(memory["page_bytes"]),
            "stock_bytes_median": _median(memory.get("stock_bytes") or []),
            "stock_tag_bytes_median": _median(memory.get("stock_tag_bytes") or []),
            "whole_product_bytes": whole,
            "budget_bytes": BUDGET_BYTES,
            "cache_used_memory": memory["used_memory"],
            "cache_maxmemory": memory["maxmemory"],
            "cache_keys": memory["keys"],
        },
    }
    page = summary["memory"]["page_bytes_median"]
    fit = int(memory["maxmemory"] / page) if page and memory["maxmemory"] else 0
    summary["page_bound"] = {
        "pages": fit,
        "page_bytes": page,
        "maxmemory_mib": memory["maxmemory"] / 2**20,
        "share": round(zipf(results["catalog"]["products"]).share_of_top(fit), 4) if fit else None,
    }
    pressed = phases.get("pressure")
    if pressed and pressed["result"]:
        summary["pressure"] = {
            **summarize_config([pressed]),
            "maxmemory": pressed["result"].get("maxmemory"),
            "used_memory": pressed["result"].get("used_memory"),
        }
    summary["ratios"] = ratios(summary)
    summary["hits"] = hit_ceiling(ceiling)
    summary["inprocess"] = results.get("inprocess")
    summary["staleness"] = staleness(results["staleness"]) if "staleness" in results else None
    summary["stack"] = results.get("stack")  # runs before the stack phase existed have none
    summary["targets"] = targets(summary)
    return summary


def _round_of(phase: str) -> str:
    """`product-hit-on-r2` -> `r2`; a phase of a run without ceiling rounds -> ``."""
    match = re.search(r"-(r\d+)$", phase)
    return match.group(1) if match else ""


def hit_ceiling(ceiling: dict) -> list[dict]:
    """Per kind of page hit: req/s, its share of the pre-rendered page's and the issue's goal
    for that share; `met` is None when either phase is missing. The share is the median of
    each round's share against the pre-rendered phase of the same round (pooled req/s where
    the rounds do not pair up, as in runs from before the ceiling rounds)."""
    prerendered = ceiling.get("prerendered", {})
    by_round = {_round_of(r["phase"]): r["rps"] for r in prerendered.get("rounds", [])}
    rows = []
    for label, key, goal, namespace in HIT_TARGETS:
        phase = ceiling.get(key, {})
        shares = [
            r["rps"] / by_round[_round_of(r["phase"])]
            for r in phase.get("rounds", [])
            if by_round.get(_round_of(r["phase"]))
        ]
        if shares:
            ratio = _r(statistics.median(shares), 3)
        else:
            ratio = _r(_div(phase.get("rps"), prerendered.get("rps")), 3)
        rows.append({
            "kind": label, "phase": key, "rps": phase.get("rps"), "errors": phase.get("errors"),
            "namespace": namespace,
            "hit_rate": phase.get("shelf", {}).get(namespace, {}).get("hit_rate"),
            "vs_prerendered": ratio, "round_shares": [round(x, 3) for x in shares],
            "goal": goal, "met": None if ratio is None else ratio >= goal,
        })  # fmt: skip
    return rows


def staleness(raw: dict) -> dict:
    """Pool bench/staleness.py's rounds: ms from each commit to each worker's first read of
    the new price (a round that timed out has no value for the workers that never showed it)."""
    fresh = [ms for r in raw["rounds"] for ms in r["fresh_ms"].values()]
    return {
        "rounds": len(raw["rounds"]),
        "workers": len(raw["workers"]),
        "readers": raw["readers"],
        "reads": raw["reads"],
        "read_errors": raw["read_errors"],
        "timed_out_rounds": sum(1 for r in raw["rounds"] if r["timed_out"]),
        "fresh_p50_ms": _r(percentile(fresh, 50), 2),
        "fresh_p99_ms": _r(percentile(fresh, 99), 2),
        "fresh_max_ms": _r(max(fresh), 2) if fresh else None,
        "stale_after_commit": raw["stale_after_commit"],
    }


def _div(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def ratios(s: dict) -> dict:
    on, off, ceiling = s["on"], s["off"], s["ceiling"]
    tpv_on = on["postgres"]["transactions_per_view"]
    tpv_off = off["postgres"]["transactions_per_view"]
    shelf = on["shelf"]
    served = sum(v["hit_rate"] * v["lookups"] for v in shelf.values())
    lookups = sum(v["lookups"] for v in shelf.values())
    product_on = ceiling.get("product_on", {}).get("rps")
    replay = ceiling.get("product_replay", {}).get("rps")
    prerendered = ceiling.get("prerendered", {}).get("rps")
    return {
        "throughput_on_vs_off": _r(_div(on["all"]["rps"], off["all"]["rps"]), 2),
        "product_rps_on_vs_off_mixed": _r(
            _div(on["by_type"]["product"]["rps"], off["by_type"]["product"]["rps"]), 2
        ),
        "product_rps_on_vs_off_alone": _r(
            _div(product_on, ceiling.get("product_off", {}).get("rps")), 2
        ),
        "product_vs_prerendered": _r(_div(product_on, prerendered), 3),
        "product_replay_vs_prerendered": _r(_div(replay, prerendered), 3),
        "product_replay_vs_off": _r(_div(replay, ceiling.get("product_off", {}).get("rps")), 2),
        "product_vs_bare": _r(_div(product_on, ceiling.get("bare", {}).get("rps")), 3),
        "sql_off_vs_on": _r(_div(tpv_off, tpv_on), 1),
        "overall_hit_rate": _r(_div(served, lookups), 4),
        "db_load_reduction": _r(1 - _div(tpv_on, tpv_off), 4) if tpv_on is not None else None,
        "p50_reduction": _r(1 - _div(on["all"]["p50_ms"], off["all"]["p50_ms"]), 4)
        if off["all"]["p50_ms"]
        else None,
        "p95_reduction": _r(1 - _div(on["all"]["p95_ms"], off["all"]["p95_ms"]), 4)
        if off["all"]["p95_ms"]
        else None,
    }


def targets(s: dict) -> list[dict]:
    on, ratio, memory = s["on"], s["ratios"], s["memory"]

    def rate(namespace: str) -> float | None:
        return on["shelf"].get(namespace, {}).get("hit_rate")

    rows = [
        ("Product-page views with 0 SQL (shelf on)", on["by_type"]["product"]["zero_sql_share"],
         0.97, ">=", "pct"),
        ("All page views with 0 SQL (shelf on)", on["all"]["zero_sql_share"], 0.90, ">=", "pct"),
        ("SQL per page view, off / on (PostgreSQL's count)", ratio["sql_off_vs_on"], 20, ">=", "x"),
        ("Product pages, fresh draws: shelf on / pre-rendered ceiling",
         ratio["product_vs_prerendered"], 0.70, ">=", "pct"),
        ("Product pages, all on the shelf: shelf on / pre-rendered ceiling",
         ratio["product_replay_vs_prerendered"], 0.70, ">=", "pct"),
        ("Product pages, fresh draws: shelf on / shelf off",
         ratio["product_rps_on_vs_off_alone"], 4, ">=", "x"),
        ("Product pages in the mixed workload: shelf on / shelf off",
         ratio["product_rps_on_vs_off_mixed"], 4, ">=", "x"),
        ("Hit rate, catalog.product", rate("catalog.product"), 0.95, ">", "pct"),
        ("Hit rate, search.page (the rendered results)", rate("search.page"), 0.95, ">", "pct"),
        ("Redis memory per cached product (entry + version key)", memory["per_product_bytes"],
         600, "<", "bytes"),
        ("Product views with 0 cache-Redis round trips, shelf on (mixed workload)",
         on["by_type"]["product"].get("zero_calls_share"), ZERO_CALL_GOAL, ">=", "pct"),
    ]  # fmt: skip
    for key, label in ZERO_CALL_PHASES:
        rows.append((f"Product views with 0 cache-Redis round trips, product pages alone, {label}",
                     s["ceiling"].get(key, {}).get("zero_calls_share"), ZERO_CALL_GOAL, ">=",
                     "pct"))  # fmt: skip
    if s.get("staleness"):
        rows.append(("Reads of the old price that started after the commit returned",
                     s["staleness"]["stale_after_commit"], 0, "==", "count"))  # fmt: skip
    out = []
    for name, value, goal, op, unit in rows:
        met = None
        if value is not None:
            met = {">=": value >= goal, ">": value > goal, "<": value < goal, "==": value == goal}[
                op
            ]
        out.append({"target": name, "value": value, "goal": goal, "op": op, "unit": unit,
                    "met": met})  # fmt: skip
    return out


# PRESENTATION
# ------------------------------------------------------------------------------------------------
def fmt(value, unit: str = "") -> str:
    if value is None:
        return "-"
    if unit == "pct":
        return f"{value * 100:.1f}%"
    if unit == "x":
        return f"{value:,.1f}x"
    if unit == "bytes":
        return f"{value:,.0f} B"
    if isinstance(value, float):
        return f"{value:,.1f}" if value >= 10 else f"{value:,.2f}"
    return f"{value:,}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _trio(d: dict) -> str:
    return f"{fmt(d['p50_ms'])} / {fmt(d['p95_ms'])} / {fmt(d['p99_ms'])}"


def markdown(s: dict, chart: str | None) -> str:
    on, off, ratio, ceiling, memory = s["on"], s["off"], s["ratios"], s["ceiling"], s["memory"]
    m, c = s["machine"], s["config"]
    lines = [
        "# Benchmarks: the shelf on and off",
        "",
        f"Measured {s['finished']} with:",
        "",
        "```",
        s["command"],
        "```",
        "",
        f"- Machine: **{m['cores']} cores** ({m['cpu'] or 'unknown CPU'}), shared by the shop, "
        f"PostgreSQL, Redis, Celery, the load generator and whatever else ran (load average "
        f"{m['loadavg_start'][0]} at the start); Python {m['python']}, PostgreSQL "
        f"{m['postgres']}, Redis {m['redis']}.",
        f"- Catalog: {s['catalog']['products']:,} active products, "
        f"{s['catalog']['categories']} categories; {s['catalog']['queries']:,} search queries; "
        f"{s['catalog']['sessions']} signed-in shopper sessions.",
        f"- Load: locust (headless), {c['users']} shoppers sending requests back to back to one "
        f"gunicorn with 2 gthread workers of 4 threads; {c['rounds']} rounds of shelf on then "
        "shelf off, "
        f"{c['seconds']} s measured after a {c['warmup']} s warm-up each (the same seed for "
        f"both halves of a round), after `warm_cache` and a {c['shelf_warmup']} s shelf "
        f"warm-up; then the ceiling phases, {c['ceiling_seconds']} s each, and "
        f"{c.get('ceiling_rounds', 1)} rounds of the pre-rendered page and the hit phases, "
        f"{c.get('ceiling_round_seconds', c['ceiling_seconds'])} s each.",
        "- Compression: the shop's own zstd dictionaries, trained (`train_dictionaries`) on "
        "2,000 of its product pages before the run, as the README's sizing section says a shop "
        "does before it opens; the shelf is emptied again before `warm_cache`.",
        f"- Whole run: {s['wall_seconds'] / 60:.1f} minutes.",
        "",
        "## Summary",
        "",
    ]
    lines += _table(
        ["", "Shelf on", "Shelf off", "On vs off"],
        [
            [
                "Requests/s (all page types)",
                fmt(on["all"]["rps"]),
                fmt(off["all"]["rps"]),
                fmt(ratio["throughput_on_vs_off"], "x"),
            ],
            [
                "p50 / p95 / p99 latency, ms",
                _trio(on["all"]),
                _trio(off["all"]),
                f"p50 {fmt(ratio['p50_reduction'], 'pct')} lower",
            ],
            [
                "PostgreSQL transactions per page view",
                fmt(on["postgres"]["transactions_per_view"]),
                fmt(off["postgres"]["transactions_per_view"]),
                fmt(ratio["sql_off_vs_on"], "x") + " fewer",
            ],
            [
                "Page views with 0 SQL",
                fmt(on["all"]["zero_sql_share"], "pct"),
                fmt(off["all"]["zero_sql_share"], "pct"),
                "",
            ],
            [
                "Product pages/s, product pages alone",
                fmt(ceiling.get("product_on", {}).get("rps")),
                fmt(ceiling.get("product_off", {}).get("rps")),
                fmt(ratio["product_rps_on_vs_off_alone"], "x"),
            ],
            ["Shelf hit rate (all namespaces)", fmt(ratio["overall_hit_rate"], "pct"), "-", ""],
        ],
    )
    lines += [
        "",
        f"Against the seed's claims: hit rate {fmt(ratio['overall_hit_rate'], 'pct')} (claimed "
        f"80%), database load {fmt(ratio['db_load_reduction'], 'pct')} lower (claimed 80%), "
        f"median latency {fmt(ratio['p50_reduction'], 'pct')} lower (claimed 70%).",
        "",
    ]
    if chart:
        lines += [f"![Requests per second and p95 latency per page type]({chart})", ""]
    lines += ["## Targets", ""]
    lines += _table(
        ["Target", "Goal", "Measured", "Met"],
        [
            [
                t["target"],
                f"{t['op']} {fmt(t['goal'], t['unit'])}",
                fmt(t["value"], t["unit"]),
                {True: "yes", False: "**no**", None: "-"}[t["met"]],
            ]
            for t in s["targets"]
        ],
    )
    lines += ["", *READING, "", "## Per page type", ""]
    for config, data in (("Shelf on", on), ("Shelf off", off)):
        lines += [f"### {config}", ""]
        rows = []
        for t in (*PAGE_TYPES, "all"):
            d = data["all"] if t == "all" else data["by_type"].get(t)
            if d is not None:
                rows.append(
                    [
                        "**all**" if t == "all" else t.replace("_", " "),
                        fmt(d["requests"]),
                        fmt(d["rps"]),
                        fmt(d["p50_ms"]),
                        fmt(d["p95_ms"]),
                        fmt(d["p99_ms"]),
                        fmt(d["zero_sql_share"], "pct"),
                        fmt(d["app_sql_per_request"]),
                        fmt(d["errors"]),
                    ]
                )
        header = ["Page type", "Requests", "Req/s", "p50 ms", "p95 ms", "p99 ms"]
        lines += _table([*header, "0-SQL views", "SQL/view (app)", "Errors"], rows)
        per_round = ", ".join(
            f"{r['phase']} {fmt(r['rps'])} req/s (load {r['loadavg'][0]} to {r['loadavg'][1]})"
            for r in data["rounds"]
        )
        lines += ["", f"Rounds: {per_round}.", ""]
    split = on.get("product_split", {})
    if split:
        lines += [
            "Product pages with the shelf on, by what they cost: "
            f"{fmt(split['hit']['requests'])} served with 0 SQL (p50 {fmt(split['hit']['p50_ms'])}"
            f" ms, p95 {fmt(split['hit']['p95_ms'])} ms) and {fmt(split['miss']['requests'])} "
            f"built from PostgreSQL (p50 {fmt(split['miss']['p50_ms'])} ms, p95 "
            f"{fmt(split['miss']['p95_ms'])} ms). Latencies include the wait for a free worker.",
            "",
        ]
    pg_on, pg_off = on["postgres"], off["postgres"]
    lines += ["## Database load (PostgreSQL's own counters)", ""]
    lines += _table(
        ["", "Shelf on", "Shelf off"],
        [
            [
                "Transactions (xact_commit + xact_rollback)",
                fmt(pg_on["transactions"]),
                fmt(pg_off["transactions"]),
            ],
            [
                "Transactions per page view",
                fmt(pg_on["transactions_per_view"]),
                fmt(pg_off["transactions_per_view"]),
            ],
            [
                "Rows read per page view (tup_returned + tup_fetched)",
                fmt(pg_on["rows_read_per_view"]),
                fmt(pg_off["rows_read_per_view"]),
            ],
            [
                "Buffer accesses per page view (blks_hit + blks_read)",
                fmt(pg_on["blocks_per_view"]),
                fmt(pg_off["blocks_per_view"]),
            ],
            [
                "Rows written (orders, carts, sessions)",
                fmt(pg_on["rows_written"]),
                fmt(pg_off["rows_written"]),
            ],
            [
                "SQL statements per page view (the app's count)",
                fmt(on["all"]["app_sql_per_request"]),
                fmt(off["all"]["app_sql_per_request"]),
            ],
        ],
    )
    lines += ["", "## Shelf hit rates (shelf on)", ""]
    lines += _table(
        ["Namespace", "Lookups", "Hit rate", "Loads from PostgreSQL"],
        [
            [f"`{ns}`", fmt(v["lookups"]), fmt(v["hit_rate"], "pct"), fmt(v["loads"])]
            for ns, v in on["shelf"].items()
        ],
    )
    r = on["redis"]
    first = s["first_time_product_views"]
    bound = s["page_bound"]
    lines += [
        "",
        f"Redis's own counters on the cache server over the same windows: "
        f"{fmt(r['keyspace_hits'])} keyspace hits, {fmt(r['keyspace_misses'])} misses "
        f"({fmt(r['keyspace_hit_rate'], 'pct')}; version-tag reads count too), "
        f"{fmt(r['evicted_keys'])} evictions, {fmt(r['commands_per_view'])} commands per "
        "page view.",
        "",
        "**The Zipf tail.** Share of product-page views that asked for a product no earlier "
        "request to the shelf-on gunicorn had asked for since the shelf was emptied: "
        + ", ".join(f"{name} {fmt(v, 'pct')}" for name, v in first.items())
        + ". No whole-page shelf can serve those, so `catalog.page` cannot hit more often than "
        "100% minus that share in a run this short. With Zipf s = 1.1 over "
        f"{s['catalog']['products']:,} products the {bound['pages']:,} most popular pages that "
        f"fit in the cache's maxmemory ({bound['maxmemory_mib']:,.0f} MiB at "
        f"{fmt(bound['page_bytes'], 'bytes')} a page, ignoring everything else on it) take "
        f"{fmt(bound['share'], 'pct')} of product views: the best a long-running shop could do "
        "with whole pages alone.",
        "",
        "## Memory",
        "",
    ]
    lines += _table(
        ["", "Median of the sample"],
        [
            [
                "`catalog.product` entry (`MEMORY USAGE`)",
                fmt(memory["entry_bytes_median"], "bytes"),
            ],
            [
                "its version key `shelf:tag:product:<id>`",
                fmt(memory["version_key_bytes_median"], "bytes"),
            ],
            [
                "**per cached product**",
                fmt(memory["per_product_bytes"], "bytes")
                + f" (the seed's budget {memory['budget_bytes']:,} B; target < 600 B)",
            ],
            ["JSON value of the entry", fmt(memory["json_value_bytes_median"], "bytes")],
            ["`catalog.page` (rendered product page)", fmt(memory["page_bytes_median"], "bytes")],
            ["`inventory.stock` entry", fmt(memory.get("stock_bytes_median"), "bytes")],
            [
                "its version key `shelf:tag:stock:<id>`",
                fmt(memory.get("stock_tag_bytes_median"), "bytes"),
            ],
            [
                "**a whole product** (page, entry, stock and their version keys)",
                fmt(memory.get("whole_product_bytes"), "bytes") + " (target <= 3,000 B)",
            ],
        ],
    )
    lines += [
        "",
        f"Sample: {memory['sampled_products']:,} cached products, in a seeded random order. The "
        f"cache server held {memory['cache_keys']:,} keys in "
        f"{memory['cache_used_memory'] / 2**20:,.0f} MiB "
        f"(maxmemory {memory['cache_maxmemory'] / 2**20:,.0f} MiB, allkeys-lru).",
        "",
        "## Write-behind",
        "",
    ]
    lines += _table(
        ["", "Samples", "Lag p50", "Lag p99"],
        [
            [
                name,
                fmt(d["write_behind"]["samples"]),
                f"{fmt(d['write_behind']['lag_p50_s'])} s",
                f"{fmt(d['write_behind']['lag_p99_s'])} s",
            ]
            for name, d in (("Shelf on", on), ("Shelf off", off))
        ],
    )
    lines += [
        "",
        "Lag: from a cart change in Redis to its row committed in PostgreSQL by the beat task "
        "`cart.tasks.carts_sync` (every 2 s), as the task records it (`cart:sync_lag`), under "
        "the load of the measured windows.",
        "",
        "## Ceiling",
        "",
    ]
    rows = []
    for key, label in CEILING_LABELS.items():
        d = ceiling.get(key)
        if d:
            rows.append(
                [
                    label,
                    fmt(d["rps"]),
                    fmt(d["p50_ms"]),
                    fmt(d["p95_ms"]),
                    fmt(d["p99_ms"]),
                    fmt(d["zero_sql_share"], "pct"),
                ]
            )
    lines += _table(["Phase", "Req/s", "p50 ms", "p95 ms", "p99 ms", "0-SQL"], rows)
    bare_vs = _div(ceiling.get("bare", {}).get("rps"), ceiling.get("prerendered", {}).get("rps"))
    lines += [
        "",
        f"Product pages with the shelf reach {fmt(ratio['product_vs_prerendered'], 'pct')} of "
        "the pre-rendered page's throughput with fresh draws (their first-time views are built "
        f"from PostgreSQL) and {fmt(ratio['product_replay_vs_prerendered'], 'pct')} when every "
        f"page is on the shelf ({fmt(ratio['product_replay_vs_off'], 'x')} the shelf-off "
        f"product pages); the bare view does {fmt(bare_vs, 'x')} the pre-rendered page.",
        "",
    ]
    replay = ceiling.get("product_replay")
    if replay and replay.get("shelf"):
        page = replay["shelf"].get("catalog.page", {})
        stock = replay["shelf"].get("inventory.stock", {})
        lines += [
            "In the replay `catalog.page` hit "
            f"{fmt(page.get('hit_rate'), 'pct')}, yet {fmt(1 - replay['zero_sql_share'], 'pct')} "
            "of the product views still ran SQL: `inventory.stock` loaded "
            f"{fmt(stock.get('loads'))} entries ({fmt(stock.get('misses'))} missing) for "
            f"{fmt(page.get('lookups'))} pages. The replay sends more requests than the first "
            "pass did (it is faster), so it goes on to draws never sent before: first-time "
            "views, not hits. The hit phases below send fixed sets of pages instead.",
            "",
        ]
    lines += hits_section(s["hits"])
    if s.get("pressure"):
        lines += pressure_section(s["on"], s["pressure"])
    lines += calls_section(s)
    if s.get("inprocess"):
        lines += inprocess_section(s["inprocess"])
    if s.get("staleness"):
        lines += staleness_section(s["staleness"])
    if s.get("stack"):
        lines += stack_section(s["stack"])
    preload = s["machine"].get("postgres_preload") or "empty"
    lines += [line.replace("@PRELOAD@", preload) for line in METHOD]
    return "\n".join(lines) + "\n"


def hits_section(hits: list[dict]) -> list[str]:
    lines = ["## Hits of every kind of page", ""]
    lines += _table(
        ["Page kind (shelf on)", "Req/s", "Share of the pre-rendered page (median)", "Target",
         "Met", "Shelf hit rate", "Errors", "Each round's share"],
        [
            [
                h["kind"],
                fmt(h["rps"]),
                fmt(h["vs_prerendered"], "pct"),
                f">= {fmt(h['goal'], 'pct')}",
                {True: "met", False: "**not met**", None: "-"}[h["met"]],
                f"{fmt(h['hit_rate'], 'pct')} `{h['namespace']}`",
                fmt(h["errors"]),
                ", ".join(fmt(x, "pct") for x in h.get("round_shares") or []) or "-",
            ]
            for h in hits
        ],
    )  # fmt: skip
    return [
        *lines,
        "",
        "Each kind alone, with the same users and gunicorn as the pre-rendered page (one GET "
        "from the cache Redis, nothing else), after a warm-up that put every page of the phase "
        "on the shelf: the 1,000 most popular product pages (anonymous, then with every visit "
        "signed in), the home page, the first page of each category, the 30 most frequent "
        "searches (each page fetched once before its first phase). The phases run in rounds, "
        "each round all of them in a rotated order: a kind's share is the median of its "
        "rounds' req/s over the pre-rendered page's in the same round, as the load of a "
        "shared machine moves between rounds. Req/s counts answered requests (all rounds); "
        "the hit rate is the kind's own, of the namespace named.",
        "",
    ]


def calls_section(s: dict) -> list[str]:
    """Per phase and page type: how many calls to the cache Redis a view made (X-Shelf-Calls)
    and how many commands Redis processed per view (INFO, the whole server)."""
    rows = []

    def add(phase: str, data: dict, types: list[tuple[str, dict]]) -> None:
        commands = fmt(data.get("redis", {}).get("commands_per_view"))
        for name, d in types:
            rows.append([phase, name, fmt(d["requests"]), fmt(d.get("zero_calls_share"), "pct"),
                         fmt(d.get("calls_per_request")), commands])  # fmt: skip
            phase, commands = "", ""

    for config in CONFIGS:
        data = s[config]
        types = [(t.replace("_", " "), data["by_type"][t]) for t in PAGE_TYPES
                 if t in data["by_type"]]  # fmt: skip
        add(f"Rounds, shelf {config}", data, [*types, ("**all**", data["all"])])
    for key, label in CEILING_LABELS.items():
        if key in s["ceiling"]:
            add(label, s["ceiling"][key], [("all", s["ceiling"][key])])
    lines = ["## Cache-Redis round trips per view", ""]
    lines += _table(
        ["Phase", "Page type", "Views", "0 calls", "Calls/view", "Redis commands/view"], rows
    )
    return [
        *lines,
        "",
        "Calls: the `X-Shelf-Calls` header of each response (bench settings: the request's "
        "round trips to the cache Redis through the shelf). Commands: Redis's "
        "`total_commands_processed` on the cache server across the window over the views "
        "(a pipeline is one call but several commands; Celery's and the probes' few commands "
        "count too). The pre-rendered view reads Redis with the client directly, past the shelf's "
        "counter: its one GET shows in the commands only.",
        "",
    ]


def pressure_section(on: dict, pressed: dict) -> list[str]:
    """The first round's workload again in a cache cut to BENCH_PRESSURE_MB, beside the
    shelf-on rounds in the full cache."""
    mib = (pressed.get("maxmemory") or 0) / 2**20
    lines = [f"## Under memory pressure: a {mib:,.0f} MiB cache", ""]
    rows = [
        ["Requests/s (all page types)", fmt(on["all"]["rps"]), fmt(pressed["all"]["rps"])],
        ["Product views with 0 SQL", fmt(on["by_type"]["product"]["zero_sql_share"], "pct"),
         fmt(pressed["by_type"].get("product", {}).get("zero_sql_share"), "pct")],
        ["All views with 0 SQL", fmt(on["all"]["zero_sql_share"], "pct"),
         fmt(pressed["all"]["zero_sql_share"], "pct")],
        ["PostgreSQL transactions per view", fmt(on["postgres"]["transactions_per_view"]),
         fmt(pressed["postgres"]["transactions_per_view"])],
        ["Keys evicted in the window", fmt(on["redis"]["evicted_keys"]),
         fmt(pressed["redis"]["evicted_keys"])],
    ]  # fmt: skip
    for namespace in sorted(set(on["shelf"]) | set(pressed["shelf"])):
        rows.append([f"Hit rate, {namespace}",
                     fmt(on["shelf"].get(namespace, {}).get("hit_rate"), "pct"),
                     fmt(pressed["shelf"].get(namespace, {}).get("hit_rate"), "pct")])  # fmt: skip
    lines += _table(["", "Shelf on, full cache", f"Shelf on, {mib:,.0f} MiB"], rows)
    return [
        *lines,
        "",
        "The pressure round replays the first shelf-on round's seed after every other phase, "
        f"with the cache Redis's `maxmemory` cut to {mib:,.0f} MiB (`CONFIG SET`; "
        "`allkeys-lru` evicts the least recently used entries first, so cold pages go before "
        f"popular ones) and restored afterwards; used memory at its end: "
        f"{fmt((pressed.get('used_memory') or 0) / 2**20)} MiB.",
        "",
    ]


def inprocess_section(d: dict) -> list[str]:
    labels = {
        "product_fixed": "Product page, one product",
        "product_warmed": "Product page, random of the 200 most popular (all warmed)",
        "product_signed_in": "The same product pages, signed in (a shopper's session cookie)",
        "category": "Category, first page of a random category",
        "home": "Home page",
        "search": "Search, one of the 30 most frequent queries",
        "prerendered": "The pre-rendered page (`/bench/prerendered/`)",
    }
    lines = ["## In-process microseconds per hit", ""]
    lines += _table(
        ["Request (shelf on, all hits)", "Requests", "Median µs", "p90 µs", "Cache calls"],
        [
            [label, fmt(d[k]["requests"]), fmt(d[k]["median_us"]), fmt(d[k]["p90_us"]),
             fmt(d[k]["calls_per_request"])]
            for k, label in labels.items()
            if k in d
        ],
    )  # fmt: skip
    prof = d["profile"]
    z = d.get("decompression")
    if z and z["pages"]:
        lines += [
            "",
            f"**Decompression:** a stored product page ({fmt(z['stored_bytes'], 'bytes')} "
            f"compressed, {fmt(z['plain_bytes'], 'bytes')} plain; median of {z['pages']}) "
            f"decodes in {fmt(z['compressed_us'])} µs against {fmt(z['plain_us'])} µs for the "
            "same entry stored plain: paid when a page enters a process's L1, not per hit.",
        ]
    lines += [
        "",
        "One process, Django's WSGI handler called as gunicorn calls it (every middleware, the "
        "view, the response consumed and closed), no sockets but the ones to Redis; each "
        "request timed on its own (`bench/inprocess.py`).",
        "",
        "### What each remaining microsecond is spent on",
        "",
        f"cProfile over {fmt(prof['hits'])} product-page hits (random of the warmed set): "
        f"{fmt(prof['total_us_per_hit'])} µs of own time per hit in all (profiling inflates "
        "every call, the many small ones most), the top functions by own time:",
        "",
    ]
    lines += _profile_table(prof)
    signed_in = d.get("profile_signed_in")
    if signed_in:
        lines += [
            "",
            f"The same over {fmt(signed_in['hits'])} signed-in product-page hits: "
            f"{fmt(signed_in['total_us_per_hit'])} µs of own time per hit in all:",
            "",
            *_profile_table(signed_in),
        ]
    return [*lines, ""]


def _profile_table(prof: dict) -> list[str]:
    return _table(
        ["Function", "Calls/hit", "Own µs/hit", "Cumulative µs/hit"],
        [
            [f"`{f['function']}`", fmt(f["calls_per_hit"]), fmt(f["own_us_per_hit"]),
             fmt(f["cumulative_us_per_hit"])]
            for f in prof["functions"]
        ],
    )  # fmt: skip


def staleness_section(d: dict) -> list[str]:
    lines = ["## Staleness after commit", ""]
    lines += _table(
        ["Rounds", "Workers", "p50 ms", "p99 ms", "max ms", "Stale reads after commit",
         "Timed-out rounds", "Reads"],
        [[fmt(d["rounds"]), fmt(d["workers"]), fmt(d["fresh_p50_ms"]), fmt(d["fresh_p99_ms"]),
          fmt(d["fresh_max_ms"]), fmt(d["stale_after_commit"]), fmt(d["timed_out_rounds"]),
          fmt(d["reads"])]],
    )  # fmt: skip
    return [
        *lines,
        "",
        "Each round saves a new price of the most popular product as the admin does (`save()` "
        "in `transaction.atomic()`, another process with the bench settings) while "
        f"{d['readers']} readers fetch its page from the shelf-on gunicorn over new "
        "connections; ms from the commit's return to each worker's first response with the "
        "new price (`X-Shelf-Worker`), and the reads that started after the commit had "
        f"returned yet showed the old price (must be 0). {fmt(d['read_errors'])} reads failed "
        "or showed no price (`bench/staleness.py`).",
        "",
    ]


READING = [
    "How to read the targets: every number is from this run's measured windows, so it "
    "includes the Zipf tail (see the hit rates) and this machine's noise (load averages per "
    'round below). "Fresh draws" are the workload as specified; "all on the shelf" sends the '
    "same product requests a second time, which isolates what serving a page from the shelf "
    "costs.",
]


METHOD = [
    "## How it is measured",
    "",
    "- **Workload** (`bench/workload.py`, `bench/locustfile.py`): each locust user is a "
    "shopper with its own cookies and a seeded random stream; a visit lasts a geometric number "
    "of actions (mean 40), 30% of visits are signed in (sessions of accounts made by "
    "`bench/prepare.py`). Actions: 65% product pages (Zipf, s = 1.1, over every active "
    "product, ranks a seeded shuffle), 15% category pages, 15% searches (Zipf over the "
    "vocabulary), 4% cart adds of the last product viewed in stock, 1% checkouts through the "
    "real flow (form, details, review, place with the test card, order page; a checkout whose "
    "cart sold out empties the cart). Each HTTP request counts as one page view; a checkout is "
    "several. No think time: the server is kept saturated, so latencies include queueing.",
    "- **Shelf on and off** are two gunicorns (2 gthread workers of 4 threads each, the production "
    "`config/gunicorn.py`) on the same database and Redis, differing only in `SHELF_ENABLED`; "
    "one Celery worker and beat serve both. Phases never overlap.",
    "- **SQL**: PostgreSQL's `pg_stat_database` for the bench database, read before and "
    "after each measured window; before the closing read the shop's connections to the bench "
    "database are ended, so that every backend has reported (a busy backend reports at most "
    "once a second, so up to a second of the warm-up may count in a window). With "
    "autocommit every statement outside a transaction block is one transaction; the writes of "
    "a checkout, a cart sync or a session save are one transaction each, and connection health "
    "checks (`SELECT 1`) and the Celery tasks the window caused are counted too. "
    "`pg_stat_statements` would count statements exactly, but it needs "
    "`shared_preload_libraries` (here: `@PRELOAD@`) and a restart of a server that others "
    "share; the benchmark reads what any server has. The per-request `X-SQL-Count` header "
    "(bench settings only) gives the 0-SQL shares and the app's statement count.",
    "- **Hit rates**: the toolkit's counters (`shelf:stats:total`), (hit + stale) / "
    "(hit + stale + miss + bypass), as the dashboard computes them; Redis's INFO "
    "`keyspace_hits/misses` of the cache server alone.",
    "- **Ceiling**: the same gunicorn (shelf on) serving `/bench/bare/` and "
    "`/bench/prerendered/` (config/urls_bench.py, bench settings only), then product pages "
    "alone on each gunicorn, then rounds of the pre-rendered page and hits of the most "
    "popular product pages, the home page, the categories' first pages, the 30 most frequent "
    "searches and signed-in product pages on the shelf-on one, with the same users. Each "
    "round runs every one of these phases, in an order rotated by one per round, and a hit's "
    "share of the ceiling is the median over rounds of its req/s over the pre-rendered "
    "page's of the same round: run once each, minutes apart, the same code measured between "
    "69% and 122% of the ceiling on this shared machine.",
    "- **The machine's size limits the numbers**: the two gunicorn workers share the cores "
    "with PostgreSQL, Redis, Celery and locust itself (one process), so every throughput here "
    "is that of the whole stack on these cores, not of the application alone; the ratios are "
    "the meaningful part.",
]


def stack_section(d: dict) -> list[str]:
    """The stack phase: `make stack`'s topology, 3 app processes against 1 through nginx."""
    lines = ["## make stack: nginx in front of 3 app processes against 1", ""]
    if "skipped" in d:
        return [*lines, f"Not measured in this run: {d['skipped']}", ""]
    lines += [
        f"The production topology on this machine (`make stack`, scripts/stack.py): nginx in "
        f"front of {d['app_processes']} gunicorn processes of {d['workers']} workers each, a "
        "second nginx in front of app process 1 alone, a Celery worker and beat, PostgreSQL, "
        "the three Redis roles on their own ports. The same load through both nginx in "
        f"alternation (`wrk -c {d['connections']}`, {d['paths']} paths, all on the shelf): "
        f"{d['rounds']} rounds of {d['seconds']} s, the order swapped every round (load "
        f"average {d['load']:.1f} before the first). bench/stack.py, as `make stack-bench`, "
        "which writes the same figures, and every earlier run's, to docs/stack.md.",
        "",
    ]
    rows = []
    for name, runs in d["results"].items():
        rows.append([
            name, f"{d['medians'][name]:.0f}", ", ".join(f"{r['rps']:.0f}" for r in runs),
            f"{runs[0]['p50']} / {runs[0]['p99']}", str(sum(r["requests"] for r in runs)),
            str(sum(r["non2xx"] for r in runs)),
        ])  # fmt: skip
    lines += _table(
        ["Upstream", "Median req/s", "Each round", "p50 / p99 (round 1)", "Requests", "Non-2xx"],
        rows,
    )
    total = sum(d["spread"].values()) or 1
    spread = ", ".join(f"{a} {n / total:.0%}" for a, n in d["spread"].items()) or "unknown"
    lines += [
        "",
        f"**Ratio 3 apps / 1 app: {d['ratio']:.2f}** (2 shared cores: more processes overlap "
        "their Redis waits, they do not add CPU). nginx spread the 3-app requests: "
        f"{spread}.",
        "",
        *d["fresh"],
        "",
    ]
    lines += _table(
        ["Shelf entry (MEMORY USAGE)", "Keys sampled", "Mean bytes"],
        [[kind, str(n), f"{mean:.0f}"] for kind, n, mean in d["memory"]],
    )
    return [*lines, ""]


def chart(s: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    types = [t for t in PAGE_TYPES if t in s["on"]["by_type"] and t in s["off"]["by_type"]]
    labels = [t.replace("_", " ") for t in types]
    x = range(len(types))
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(18, 4.6), width_ratios=(1, 1, 1.6))
    for offset, config, colour in ((-0.2, "on", "#2a7ab0"), (0.2, "off", "#c8553d")):
        rps = [s[config]["by_type"][t]["rps"] for t in types]
        p95 = [s[config]["by_type"][t]["p95_ms"] for t in types]
        ax1.bar([i + offset for i in x], rps, 0.4, label=f"shelf {config}", color=colour)
        ax2.bar([i + offset for i in x], p95, 0.4, label=f"shelf {config}", color=colour)
    for ax, title in ((ax1, "Requests/s per page type"), (ax2, "p95 latency, ms (log)")):
        ax.set_xticks(list(x), labels)
        ax.set_title(title)
        ax.legend()
    ax2.set_yscale("log")
    ceiling = s["ceiling"]
    names = {
        "bare": ("bare\nDjango", "#888888"),
        "prerendered": ("pre-rendered\nfrom Redis", "#888888"),
        "product_on": ("product\non, fresh", "#2a7ab0"),
        "product_replay": ("product\non, replay", "#7fb3d5"),
        "product_off": ("product\noff", "#c8553d"),
        "product_hit": ("product\nhits", "#7fb3d5"),
        "home_hit": ("home\nhits", "#7fb3d5"),
        "category_hit": ("category\nhits", "#7fb3d5"),
        "search_hit": ("search\nhits", "#7fb3d5"),
        "product_signed_in": ("product\nsigned in", "#7fb3d5"),
    }
    shown = [(label, ceiling[k]["rps"], colour) for k, (label, colour) in names.items()
             if k in ceiling]  # fmt: skip
    ax3.bar([n for n, _, _ in shown], [v for _, v, _ in shown], color=[c for *_, c in shown])
    ax3.set_title("Ceiling: requests/s, one kind of request")
    ax3.tick_params(axis="x", labelsize=8)
    fig.suptitle(
        f"Shelf on vs off: {s['catalog']['products']:,} products, {s['config']['users']} "
        f"shoppers, {s['machine']['cores']} cores"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write(results: dict, base: Path) -> list[Path]:
    """Write <base>.json, <base>.png and <base>.md; return their paths."""
    base.parent.mkdir(parents=True, exist_ok=True)
    summary = summarize(results)
    json_path = base.with_suffix(".json")
    json_path.write_text(json.dumps(summary, indent=1) + "\n")
    png = chart(summary, base.with_suffix(".png"))
    md = base.with_suffix(".md")
    # A hand-written "## Notes" section of the earlier report is kept (as bench_search does).
    earlier = md.read_text() if md.exists() else ""
    notes = earlier[earlier.find("\n## Notes") :] if "\n## Notes" in earlier else ""
    md.write_text(markdown(summary, png.name) + notes)
    return [md, json_path, png]


def main(argv: list[str]) -> int:
    raw = Path(argv[0]) if argv else ROOT / ".local" / "bench" / "results.json"
    results = json.loads(raw.read_text())
    for path in write(results, ROOT / results["config"]["output"]):
        print(f"report: wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
