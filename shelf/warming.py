"""Warming the shelf ahead of shoppers: one plan for `warm_cache`, the dashboard's "Warm now"
task, and anything else that needs it.

The toolkit does not know what the apps cache: each app registers a plan builder from its
AppConfig.ready() with `register_warm_plan`, and `warm_plan` puts them together in the order
they were registered (INSTALLED_APPS order).
"""

from collections import Counter
from collections.abc import Callable, Iterable

from . import stats

Plan = list[tuple[str, Callable[[], object]]]
# A builder gets the sizes asked for (products, queries; None: the app's default) and takes
# the ones it understands.
PlanBuilder = Callable[..., Plan]

_builders: dict[str, PlanBuilder] = {}


def register_warm_plan(name: str, build: PlanBuilder) -> None:
    """Add an app's plan builder (registering a name again replaces it)."""
    _builders[name] = build


def warm_plan(products: int, queries: int | None = None) -> Plan:
    """What to load, from every registered builder: e.g. catalog pages and popular products,
    then the first results pages of the top search queries."""
    sizes = {"products": products, "queries": queries}
    return [entry for build in _builders.values() for entry in build(**sizes)]


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
