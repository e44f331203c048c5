"""The toolkit's Celery tasks.

Until the next release each is also registered under the name it had when the toolkit lived in
the shop app (`shop.tasks.<name>`), so that messages queued before an upgrade still run.
"""

from collections.abc import Callable
from typing import Any, TypeVar

from celery import shared_task

from . import outbox, warming

F = TypeVar("F", bound=Callable[..., Any])


def also_named(old_name: str, **options: Any) -> Callable[[F], F]:
    """Register the decorated function as a task under `old_name` too (put it below
    @shared_task): for messages queued under a task's former name."""

    def register(fn: F) -> F:
        shared_task(name=old_name, **options)(fn)
        return fn

    return register


@shared_task
@also_named("shop.tasks.shelf_warm")
def shelf_warm(products: int | None = 200, seconds: float | None = None) -> dict:
    """Warm the shelf: the same plan as `warm_cache`, up to the same budget. The dashboard's
    "Warm now" takes the 200 most popular products; the hourly beat task every product, for
    at most `seconds`, continuing where the previous run stopped."""
    return warming.shelf_warm(warming.warm_plan(products), seconds=seconds)


@shared_task
@also_named("shop.tasks.shelf_outbox_drain")
def shelf_outbox_drain() -> int:
    """Bump the shelf tags whose bump could not reach the cache Redis (shelf/outbox.py)."""
    return outbox.drain_now()
