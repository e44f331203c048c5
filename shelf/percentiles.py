"""The project's one percentile: nearest rank. No Django, no third-party imports.

Used by the ops dashboard and /metrics (cart sync lag), `make bench`'s report, `manage.py
bench_search` and `manage.py cart_lag_probe`, so a p99 means the same thing everywhere.

Nearest rank, not interpolation: the p-th percentile of n values is the smallest value with at
least p% of the values at or below it, the value of rank ceil(p/100 * n) in sorted order. It is
always a value that was measured (a latency some request really had), it is defined for a
single value, and it never lies outside the values: the interpolating methods of
statistics.quantiles need two values, and its default ("exclusive") one extrapolates past the
largest (p99 of [1, 2] is 2.97).
"""

from __future__ import annotations

import math
from collections.abc import Iterable


def percentile(values: Iterable[float], pct: float) -> float | None:
    """The nearest-rank `pct`-th percentile (0 to 100) of `values`; None for no values.

    pct 0 gives the smallest value, 100 the largest, 50 the lower median of an even count.
    """
    if not 0 <= pct <= 100:
        raise ValueError(f"a percentile is between 0 and 100, not {pct}")
    ordered = sorted(values)
    if not ordered:
        return None
    # pct * n first: for a whole pct that product is exact, so the rank is never one too high
    # (pct / 100 * n gives 7.000000000000001 for pct 7, n 100).
    return ordered[max(0, math.ceil(pct * len(ordered) / 100) - 1)]
