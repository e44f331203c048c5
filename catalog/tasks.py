from celery import shared_task

from . import services


@shared_task
def popular_rank() -> int:
    """Re-rank the popular products (top 10% of the active catalog by recent views)."""
    return services.popular_rank()
