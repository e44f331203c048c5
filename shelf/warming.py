"""Warming the shelf ahead of shoppers: one plan for `warm_cache`, the beat task, the
dashboard's "Warm now", and anything else that needs it.

The toolkit does not know what the apps cache: each app registers a plan builder from its
AppConfig.ready() with `register_warm_plan`, and `warm_plan` puts them together: first what
each app must always have warm (home, listings, top searches), in the order the apps were
registered (INSTALLED_APPS order), then their long tails (product pages by popularity).

`shelf_warm` fills the shelf in that order up to a memory budget, SHELF_WARM_BUDGET of the cache
Redis's maxmemory (80%), so that warming never makes Redis evict: the state and broker roles are
other servers, and below its maxmemory the cache role evicts nothing either. Entries that are
already on the shelf are skipped with one EXISTS per batch, so a warm-up that was interrupted, or
the hourly beat task, continues where the shelf ends.
"""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import NamedTuple

from django.conf import settings
from django.db import connections

from . import backend, stats

BATCH = 100


class Warm(NamedTuple):
    """One thing to load: `load()` puts it on the shelf. With its entry's `key`, it is skipped
    while that entry exists. `tail`: part of a long tail, loaded after every app's head."""

    label: str
    load: Callable[[], object]
    key: str | None = None
    tail: bool = False


Plan = list[Warm]
# A builder gets the sizes asked for (products, queries; None: as many as the budget allows, or
# the app's default) and takes the ones it understands.
PlanBuilder = Callable[..., Plan]

_builders: dict[str, PlanBuilder] = {}


def register_warm_plan(name: str, build: PlanBuilder) -> None:
    """Add an app's plan builder (registering a name again replaces it)."""
    _builders[name] = build


def warm_plan(products: int | None = None, queries: int | None = None) -> Plan:
    """What to load, from every registered builder: every app's head (home, catalog listings,
    first results pages of the top queries), then the tails (popular products first)."""
    sizes = {"products": products, "queries": queries}
    plan = [entry for build in _builders.values() for entry in build(**sizes)]
    return [e for e in plan if not e.tail] + [e for e in plan if e.tail]


def budget_bytes() -> int | None:
    """SHELF_WARM_BUDGET of the cache Redis's maxmemory, in bytes; None when it has no limit
    (or will not say), in which case warming stops only at the plan's end."""
    try:
        maxmemory = int(backend.call(lambda r: r.config_get("maxmemory")).get("maxmemory", 0))
    except (backend.ShelfUnavailable, ValueError):
        return None
    return int(maxmemory * settings.SHELF_WARM_BUDGET) if maxmemory else None


def _used_memory(r) -> int:
    return int(r.info("memory")["used_memory"])


def _warm_share(plan: Plan, budget: int | None, deadline: float, done, full) -> None:
    """Load the entries of `plan` that are not on the shelf, in order, until Redis's memory
    reaches `budget` or the clock `deadline`; count each entry handled in `done`, and set
    `full` at the budget."""
    for start in range(0, len(plan), BATCH):
        if full.value or time.monotonic() >= deadline:
            return
        batch = plan[start : start + BATCH]
        keys = [e.key for e in batch if e.key]
        try:
            present = dict(zip(keys, backend.call(partial(_exists, keys=keys)), strict=True))
            used = backend.call(_used_memory) if budget else 0
        except backend.ShelfUnavailable:
            return  # nothing to warm while the cache Redis is away
        if budget and used >= budget:
            full.value = 1
            return
        for entry in batch:
            if not present.get(entry.key):
                entry.load()
            with done.get_lock():
                done.value += 1
    stats.maybe_flush(force=True)


def _exists(r, keys: list[str]) -> list[bool]:
    pipe = r.pipeline(transaction=False)
    for key in keys:
        pipe.exists(key)
    return [bool(n) for n in pipe.execute()]


def shelf_warm(
    plan: Plan,
    progress: Callable[[int, int], None] | None = None,
    jobs: int = 1,
    seconds: float | None = None,
) -> dict:
    """Load `plan` up to the memory budget (and for at most `seconds`), in `jobs` processes
    (each takes every jobs-th batch of the plan, so the order by popularity holds across them);
    `progress(done, total)` is called as it goes. Return what was done."""
    stats.maybe_flush(force=True)  # so that loads counted before the warm-up are not its own
    loads_before = _loads()
    budget = budget_bytes()
    deadline = time.monotonic() + seconds if seconds is not None else float("inf")
    done = multiprocessing.Value("l", 0)
    full = multiprocessing.Value("b", 0)
    if jobs <= 1:
        _warm_share(plan, budget, deadline, done, full)
    else:
        shares = [[] for _ in range(jobs)]
        for n, start in enumerate(range(0, len(plan), BATCH)):
            shares[n % jobs] += plan[start : start + BATCH]
        connections.close_all()  # a forked child must not share its parent's connection
        context = multiprocessing.get_context("fork")
        children = [
            context.Process(target=_child, args=(share, budget, deadline, done, full))
            for share in shares
        ]
        for child in children:
            child.start()
        while any(child.is_alive() for child in children):
            if progress:
                progress(done.value, len(plan))
            time.sleep(0.2)
        for child in children:
            child.join()
    if progress:
        progress(done.value, len(plan))
    stats.maybe_flush(force=True)
    try:
        used = backend.call(_used_memory)
    except backend.ShelfUnavailable:
        used = None
    return {
        "entries": len(plan),
        "handled": done.value,
        "kinds": dict(Counter(e.label for e in plan)),
        "loaded": _loads() - loads_before,
        "budget": budget,
        "used_memory": used,
        "stopped_at_budget": bool(full.value),
    }


def _child(plan: Plan, budget: int | None, deadline: float, done, full) -> None:
    try:
        _warm_share(plan, budget, deadline, done, full)
    finally:
        # Also when the budget stopped it early: its loads count in the summary.
        stats.maybe_flush(force=True)
        connections.close_all()


def _loads() -> int:
    return sum(n for field, n in stats.read_totals().items() if field.endswith(":load"))
