"""Warming the shelf ahead of shoppers: one plan for `warm_cache`, the beat-free "Warm now"
task of the dashboard, and anything else that needs it."""

from collections import Counter
from collections.abc import Callable, Iterable

from catalog.services import catalog_warm_plan
from search.services import search_warm_plan

from .shelf import stats

Plan = list[tuple[str, Callable[[], object]]]


def warm_plan(products: int, queries: int | None = None) -> Plan:
    """What to load: catalog pages and popular products, then the top search queries."""
    return catalog_warm_plan(products) + search_warm_plan(queries)


def shelf_warm(plan: Plan, progress: Callable[[Iterable], Iterable] = iter) -> dict:
    """Load every entry of `plan`; return what was done (entries by kind, database loads)."""
    loads_before = _loads()
    for _label, load in progress(plan):
        load()
    stats.maybe_flush(force=True)
    return {
        "entries": len(plan),
        "kinds": dict(Counter(label for label, _ in plan)),
        "loaded": _loads() - loads_before,
    }


def _loads() -> int:
    return sum(n for field, n in stats.read_totals().items() if field.endswith(":load"))
