import os
from collections.abc import Callable

from django.db import connection
from django.http import HttpRequest, HttpResponse

from shelf import backend


class SQLCountMiddleware:
    """Tell the load generator how many SQL statements a response cost (`X-SQL-Count`), how
    many calls to the cache Redis (`X-Shelf-Calls`) and which worker process answered
    (`X-Shelf-Worker`, its pid: the staleness measurement reads every worker).

    Bench settings, and the test settings with TEST_WORKER_HEADER=1 (the freshness test reads
    every worker too); the shop's own counter (shop.middleware) feeds Prometheus instead.
    Connection health checks (`SELECT 1` before reusing a connection) bypass execute wrappers
    and are not counted here; PostgreSQL's own counters in the report include them.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        statements = 0

        def count(execute, sql, params, many, context):
            nonlocal statements
            statements += 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            response = self.get_response(request)
        response["X-SQL-Count"] = str(statements)
        response["X-Shelf-Calls"] = str(backend.calls_in_request())
        response["X-Shelf-Worker"] = str(os.getpid())
        return response
