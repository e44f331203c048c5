"""The toolkit's one table: the durable invalidation outbox."""

from django.contrib.postgres.fields import ArrayField
from django.db import models


class PendingBump(models.Model):
    """Shelf tags whose bump could not reach the cache Redis (see shelf/outbox.py).

    A row is written when a bump fails and deleted once the tags were bumped: by the beat task
    `shelf.tasks.shelf_outbox_drain`, and by any process about to use the cache Redis again
    after it failed there.
    """

    tags = ArrayField(models.CharField(max_length=200))
    # Empty: a bump for the cache Redis. Else the edge cache (a SHELF_EDGE_CACHES URL) that
    # still owes a purge of these tags, whose bump is done (shelf/edge.py).
    edge = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # The table keeps the name it had when the toolkit lived in the shop app.
        db_table = "shop_pendingbump"
        ordering = ["id"]

    def __str__(self) -> str:
        return f"pending bump of {len(self.tags)} tags"
