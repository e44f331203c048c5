"""shelf/percentiles.py, the one percentile (nearest rank) of the reports and the dashboard."""

import pytest

from shelf.percentiles import percentile


@pytest.mark.parametrize(
    ("values", "pct", "expected"),
    [
        # The textbook example of nearest rank: ranks ceil(p/100 * 5).
        ([15, 20, 35, 40, 50], 5, 15),
        ([15, 20, 35, 40, 50], 30, 20),
        ([15, 20, 35, 40, 50], 40, 20),
        ([15, 20, 35, 40, 50], 50, 35),
        ([15, 20, 35, 40, 50], 100, 50),
        ([3, 1, 2], 0, 1),  # order does not matter; 0 is the smallest
        ([1, 2, 3, 4], 50, 2),  # the lower middle value, not 2.5: always a measured value
        ([7.5], 99, 7.5),  # defined for one value
        ([1, 2], 99, 2),  # never past the largest (statistics.quantiles says 2.97)
        (range(1, 101), 7, 7),  # a whole pct is exact: 7 / 100 * 100 would round up to rank 8
        (range(1, 101), 95, 95),
        (range(1, 1001), 99.9, 999),
    ],
)
def test_nearest_rank(values, pct, expected):
    assert percentile(values, pct) == expected


def test_no_values_have_no_percentile():
    assert percentile([], 50) is None


@pytest.mark.parametrize("pct", [-1, 100.5])
def test_a_percentile_is_between_0_and_100(pct):
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile([1, 2, 3], pct)
