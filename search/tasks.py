from celery import shared_task

from . import services


@shared_task
def search_warm() -> int:
    """Re-rank the queries and warm the first page of the top ones (every 5 minutes).

    Idempotent: a page still on the shelf is a hit, so a second run loads nothing.
    """
    return services.search_warm()
