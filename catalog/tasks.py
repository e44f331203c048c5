from celery import shared_task

from . import services


@shared_task
def popular_rank() -> int:
    """Re-rank the popular products (top 10% of the active catalog by recent views)."""
    return services.popular_rank()


@shared_task
def rating_prior_refresh() -> int:
    """Renew the "Top rated" prior (the catalog's mean rating) and every product's score."""
    return services.rating_prior_refresh()
