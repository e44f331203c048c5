"""Popularity over a sliding day: counts per member in hourly sorted sets, summed into a ranked
set now and then (product views, search queries).

Counting is buffered by stats.zincr and reaches Redis with the counters' flush, never once per
request. Every key of a ranking shares one hash tag, so ZUNIONSTORE works on a Redis Cluster.
Losing a ranking (Redis flushed or down) only changes what is warmed and which TTL tier applies.
"""

from __future__ import annotations

import time

from . import backend, stats

HOURS = 24


class HourlyRanking:
    def __init__(self, name: str) -> None:
        self.top_key = f"{{{name}}}"
        self.hour_key = f"{{{{{name}}}}}:{{hour}}"  # format with hour=<unix hour>
        self.ttl = (HOURS + 1) * 3600

    def record(self, member: str) -> None:
        """Count one event for `member` in this hour's set."""
        stats.zincr(self.hour_key.format(hour=int(time.time() // 3600)), member, self.ttl)

    def rank(self, keep: int) -> int:
        """Sum the last 24 hourly sets into the ranked set, keep its top `keep`; return its size."""
        hour = int(time.time() // 3600)
        sources = [self.hour_key.format(hour=h) for h in range(hour - HOURS + 1, hour + 1)]

        def rank(r):
            pipe = r.pipeline(transaction=True)
            pipe.zunionstore(self.top_key, sources)
            pipe.zremrangebyrank(self.top_key, 0, -keep - 1)
            pipe.expire(self.top_key, self.ttl)
            pipe.zcard(self.top_key)
            return pipe.execute()[-1]

        try:
            return backend.call(rank)
        except backend.ShelfUnavailable:
            return 0

    def top(self, limit: int) -> list[tuple[str, int]]:
        """The best ranked members with their counts, as last ranked."""
        if limit <= 0:
            return []
        try:
            rows = backend.call(lambda r: r.zrevrange(self.top_key, 0, limit - 1, withscores=True))
        except backend.ShelfUnavailable:
            return []
        return [(member.decode(), int(score)) for member, score in rows]

    def ranked(self, members: list[str]) -> list[bool]:
        """Whether each member is in the ranked set."""
        if not members:
            return []
        try:
            scores = backend.call(lambda r: r.zmscore(self.top_key, members))
        except backend.ShelfUnavailable:
            return [False] * len(members)
        return [score is not None for score in scores]

    def position(self, member: str) -> int | None:
        """The member's place in the ranked set (0 first), or None."""
        try:
            return backend.call(lambda r: r.zrevrank(self.top_key, member))
        except backend.ShelfUnavailable:
            return None
