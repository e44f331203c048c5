"""The report's computations from raw samples and step results: pure, no servers."""

import pytest

from bench import report


def _sample(ms: float, calls: int | None = 0, status: int = 200, kind: str = "product") -> list:
    sample = [100.0, kind, ms, status, 0, False, "/p/x/"]
    return sample if calls is None else [*sample, calls]


def test_views_with_no_cache_calls_are_counted_and_calls_averaged():
    samples = [_sample(1, 0), _sample(1, 0), _sample(1, 0), _sample(1, 3)]
    d = report._latency(samples, seconds=2)
    assert d["zero_calls_share"] == 0.75
    assert d["calls_per_request"] == 0.75


def test_samples_of_earlier_runs_without_calls_still_report():
    d = report._latency([_sample(5, None), _sample(7, None)], seconds=1)
    assert d["requests"] == 2
    assert d["zero_calls_share"] is None and d["calls_per_request"] is None


def test_failed_views_do_not_count_in_the_calls():
    d = report._latency([_sample(1, 0), _sample(1, 9, status=500)], seconds=1)
    assert d["zero_calls_share"] == 1.0 and d["errors"] == 1


def test_hits_are_compared_with_the_prerendered_page_and_their_own_goal():
    ceiling = {
        "prerendered": {"rps": 1000.0},
        "product_hit": {"rps": 1000.0},
        "home_hit": {"rps": 899.0},
        "search_hit": {"rps": 800.0},
    }
    rows = {row["phase"]: row for row in report.hit_ceiling(ceiling)}
    assert rows["product_hit"]["vs_prerendered"] == 1.0 and rows["product_hit"]["met"]
    assert rows["home_hit"]["vs_prerendered"] == 0.899 and rows["home_hit"]["met"] is False
    assert rows["search_hit"]["met"] is True  # its goal is 80%
    assert rows["category_hit"]["met"] is None  # not measured: neither met nor not met



def test_a_hit_is_compared_with_the_prerendered_page_of_its_own_round():
    def rounds(name: str, *rps: float) -> list[dict]:
        return [{"phase": f"{name}-r{n}", "rps": x} for n, x in enumerate(rps, 1)]

    # The machine was twice as busy in round 2: pooled, the product page would be 0.75.
    ceiling = {
        "prerendered": {"rps": 600.0, "rounds": rounds("ceiling-prerendered", 1000, 500, 1000)},
        "product_hit": {"rps": 450.0, "rounds": rounds("product-hit-on", 900, 600, 1100)},
    }
    row = {r["phase"]: r for r in report.hit_ceiling(ceiling)}["product_hit"]
    assert row["round_shares"] == [0.9, 1.2, 1.1]
    assert row["vs_prerendered"] == 1.1 and row["met"]


def test_no_prerendered_phase_leaves_every_hit_unjudged():
    assert all(row["met"] is None for row in report.hit_ceiling({"home_hit": {"rps": 5.0}}))


def test_staleness_pools_every_worker_of_every_round():
    raw = {
        "workers": [11, 12],
        "readers": 4,
        "reads": 500,
        "read_errors": 0,
        "stale_after_commit": 0,
        "rounds": [
            {"fresh_ms": {"11": 1.0, "12": 4.0}, "timed_out": False},
            {"fresh_ms": {"11": 2.0, "12": 3.0}, "timed_out": False},
            {"fresh_ms": {"11": 9.0}, "timed_out": True},
        ],
    }
    d = report.staleness(raw)
    assert (d["fresh_p50_ms"], d["fresh_p99_ms"], d["fresh_max_ms"]) == (3.0, 9.0, 9.0)
    assert d["timed_out_rounds"] == 1 and d["rounds"] == 3 and d["workers"] == 2


def test_staleness_without_any_fresh_read_reports_no_times():
    raw = {"workers": [1], "readers": 1, "reads": 0, "read_errors": 3, "stale_after_commit": 0,
           "rounds": [{"fresh_ms": {}, "timed_out": True}]}  # fmt: skip
    d = report.staleness(raw)
    assert d["fresh_p50_ms"] is None and d["fresh_max_ms"] is None


@pytest.mark.parametrize(("value", "met"), [(0, True), (1, False), (None, None)])
def test_stale_reads_are_a_target_of_exactly_zero(value, met):
    summary = _summary()
    summary["staleness"] = {"stale_after_commit": value}
    row = next(t for t in report.targets(summary) if "old price" in t["target"])
    assert row["met"] is met


def test_zero_call_product_views_are_a_target_for_the_rounds_and_the_product_phases():
    summary = _summary()
    summary["ceiling"] = {"product_replay": {"zero_calls_share": 0.8}}
    rows = [t for t in report.targets(summary) if "0 cache-Redis" in t["target"]]
    assert [(r["value"], r["met"]) for r in rows] == [
        (0.5, False),  # the shelf-on rounds
        (None, None),  # fresh draws: not measured
        (0.8, True),  # all on the shelf
        (None, None),  # signed in
    ]


RATIOS = (
    "sql_off_vs_on",
    "product_vs_prerendered",
    "product_replay_vs_prerendered",
    "product_rps_on_vs_off_alone",
    "product_rps_on_vs_off_mixed",
)


def _summary() -> dict:
    product = {"zero_sql_share": 1.0, "zero_calls_share": 0.5}
    return {
        "on": {"by_type": {"product": product}, "all": {"zero_sql_share": 1.0}, "shelf": {}},
        "ratios": dict.fromkeys(RATIOS),
        "memory": {"per_product_bytes": None},
        "ceiling": {},
        "staleness": None,
    }


def test_the_hit_table_says_met_or_not_met_and_dashes_what_was_not_measured():
    ceiling = {"prerendered": {"rps": 100.0}, "home_hit": {"rps": 95.0, "errors": 0},
               "search_hit": {"rps": 10.0, "errors": 3}}  # fmt: skip
    lines = report.hits_section(report.hit_ceiling(ceiling))
    row = {line.split(" | ")[0].lstrip("| "): line for line in lines if line.startswith("| ")}
    assert "| 95.0% | >= 90.0% | met |" in row["Home page"]
    assert "**not met**" in row["Search results (the 30 most frequent queries)"]
    assert "| - | >= 80.0% | - |" in row["Product page, signed in"]


def test_the_stack_phase_is_a_section_of_the_one_report():
    from bench import stack
    from bench.tests.test_stack import STACK, _runs

    measured = stack.summary(
        STACK,
        {"3 app processes": _runs(300, 330, 310), "1 app process": _runs(200, 220, 100)},
        ["app 1: $12.00", "app 2: $12.00"],
        [("catalog.page (a rendered product page)", 40, 13700.2)],
        {"127.0.0.1:8101": 2, "127.0.0.1:8102": 1, "127.0.0.1:8103": 1},
        seconds=10, rounds=3, connections=16, paths=349, load=1.5,
    )  # fmt: skip
    text = "\n".join(report.stack_section(measured))
    assert text.startswith("## make stack: nginx in front of 3 app processes against 1")
    assert "| 3 app processes | 310 | 300, 330, 310 | 6.15ms / 31.46ms | 3270 | 0 |" in text
    assert "**Ratio 3 apps / 1 app: 1.55**" in text and "127.0.0.1:8101 50%" in text
    assert "app 2: $12.00" in text
    assert "| catalog.page (a rendered product page) | 40 | 13700 |" in text
    skipped = report.stack_section({"skipped": "wrk is not installed"})
    assert "Not measured in this run: wrk is not installed" in skipped


def _config_summary(hit_rate: float, evicted: int) -> dict:
    return {
        "all": {"rps": 300.0, "zero_sql_share": 0.9},
        "by_type": {"product": {"zero_sql_share": 0.95}},
        "postgres": {"transactions_per_view": 0.2},
        "redis": {"evicted_keys": evicted},
        "shelf": {"catalog.page": {"hit_rate": hit_rate}},
    }


def test_the_pressure_round_is_shown_beside_the_full_cache():
    pressed = {**_config_summary(0.61, 5400), "maxmemory": 64 * 2**20, "used_memory": 63 * 2**20}
    lines = report.pressure_section(_config_summary(0.98, 0), pressed)
    row = {line.split(" | ")[0].lstrip("| "): line for line in lines if line.startswith("| ")}
    assert lines[0] == "## Under memory pressure: a 64 MiB cache"
    assert row["Hit rate, catalog.page"].endswith("| 98.0% | 61.0% |")
    assert row["Keys evicted in the window"].endswith("| 0 | 5,400 |")
    assert "used memory at its end: 63.0 MiB" in "\n".join(lines)
