"""Which reads of the staleness step count as stale: pure, no servers."""

from decimal import Decimal

from bench.staleness import stale_reads

COMMITS = [(10.0, Decimal("5.01")), (20.0, Decimal("5.02"))]


def _read(started: float, price: str | None, pid: int = 7) -> tuple:
    return (started, started + 0.004, pid, None if price is None else Decimal(price))


def test_a_read_started_after_the_commit_with_the_old_price_is_stale():
    assert stale_reads([_read(10.5, "5.00", pid=8)], COMMITS) == [(0.5, 8)]


def test_a_read_started_before_the_commit_may_show_the_old_price():
    assert stale_reads([_read(9.9, "5.00"), _read(19.99, "5.01")], COMMITS) == []


def test_a_read_is_judged_by_the_last_commit_before_it_started():
    stale = stale_reads([_read(20.25, "5.01"), _read(20.5, "5.02")], COMMITS)
    assert stale == [(0.25, 7)]


def test_a_newer_price_than_expected_is_fresh_and_a_page_without_price_not_counted():
    # A read that started in round one may be answered after the second commit.
    assert stale_reads([_read(15.0, "5.02"), _read(15.0, None)], COMMITS) == []
