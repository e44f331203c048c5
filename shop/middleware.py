import time
from collections.abc import Callable

from django.db import connection
from django.http import HttpRequest, HttpResponse

from . import metrics


class RequestMetricsMiddleware:
    """Measure each request: latency and SQL statements go to Prometheus by view name (a
    bounded label set)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        queries = 0

        def count_query(execute, sql, params, many, context):
            nonlocal queries
            queries += 1
            return execute(sql, params, many, context)

        started = time.perf_counter()
        with connection.execute_wrapper(count_query):
            response = self.get_response(request)
        match = request.resolver_match
        view = match.view_name if match else "unmatched"
        metrics.REQUEST_SECONDS.labels(view).observe(time.perf_counter() - started)
        metrics.REQUEST_QUERIES.labels(view).observe(queries)
        return response
