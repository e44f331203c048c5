"""Durable invalidation: bumps that could not reach the cache Redis wait in PostgreSQL.

A bump runs after the commit of the write it invalidates. If the cache Redis cannot take it
(down, hung, breaker open), dropping it would leave every entry built from those tags valid
until its TTL once Redis answers again, though the database moved on. So the tags go to the
`shop_pendingbump` table (shelf.models.PendingBump) instead, and are bumped later:

- by any process before it uses the cache Redis again after a failure there (its breaker
  opened, or it recorded a bump itself): `backend.call` runs `drain` first, through the
  breaker, so no read of that process can find an entry the lost bump should have expired;
- by the beat task `shelf.tasks.shelf_outbox_drain` every SHELF_OUTBOX_DRAIN seconds, for the
  processes that never lost Redis (a partial outage): their bound on serving an entry that a
  lost bump should have expired is that interval.

Why an outbox and not a global epoch bumped after any failure: an epoch expires the whole
shelf after every blip (a stampede on PostgreSQL right when it matters), and a process that
dies before it bumps the epoch loses it all the same; the outbox keeps the exact tags, in the
database that already decided the write, and draining twice only bumps twice (harmless).
If PostgreSQL is unreachable too, the bump is logged as lost: nothing durable is left to
write it to (and no write that needs invalidating can have committed meanwhile).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.db import DatabaseError, transaction

logger = logging.getLogger("shelf")

DRAIN_BATCH = 500


def record(tags: Iterable[str]) -> bool:
    """Keep `tags` for a later bump; return False if PostgreSQL could not take them either."""
    from . import backend
    from .models import PendingBump

    tags = list(dict.fromkeys(tags))
    try:
        PendingBump.objects.create(tags=tags)
    except DatabaseError:
        logger.error("shelf bump lost: neither Redis nor PostgreSQL took tags %s", tags[:10])
        return False
    backend.recovery_needed()
    logger.warning("shelf bump deferred to the outbox", extra={"tags": tags[:10]})
    return True


def drain(r, write, batch: int = DRAIN_BATCH) -> int:
    """Bump the pending tags with client `r` (via `write(r, tags)`), delete them; return count.

    Raises the Redis client's error if Redis fails (the rows stay for the next drain). A
    database error is logged and swallowed: a shelf that cannot read its outbox still serves.
    """
    from . import edge
    from .models import PendingBump

    drained = 0
    try:
        while True:
            with transaction.atomic():
                rows = list(
                    PendingBump.objects.select_for_update(skip_locked=True)
                    .filter(edge="")  # the others are purges for an edge (shelf/edge.py)
                    .order_by("id")[:batch]
                )
                if not rows:
                    return drained
                tags = [t for row in rows for t in row.tags]
                write(r, tags)
                edge.purge_after_bump(tags)
                PendingBump.objects.filter(pk__in=[row.pk for row in rows]).delete()
            drained += len(rows)
            if len(rows) < batch:
                return drained
    except DatabaseError:
        logger.warning("shelf outbox unreadable: pending bumps wait for PostgreSQL")
        return drained
    finally:
        if drained:
            logger.info("shelf outbox drained", extra={"rows": drained})


def drain_now() -> int:
    """Drain the outbox through the breaker (the beat task); 0 if Redis is unavailable."""
    from . import backend, edge
    from .core import write_bumps

    try:
        drained = backend.call(lambda r: drain(r, write_bumps))
    except backend.ShelfUnavailable:
        return 0  # the edges' purges wait for the bumps they follow
    return drained + edge.drain()


def settled() -> bool:
    """Whether no bump waits in the outbox (False if PostgreSQL cannot say)."""
    from .models import PendingBump

    try:
        return not PendingBump.objects.filter(edge="").exists()
    except DatabaseError:
        return False


def pending() -> int:
    """How many bumps wait in the outbox."""
    from .models import PendingBump

    return PendingBump.objects.count()
