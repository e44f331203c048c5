from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from . import backend, stats


class ShelfMiddleware:
    """Give each request one try at the cache Redis, and flush the counters now and then."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        backend.request_started()
        response = self.get_response(request)
        stats.maybe_flush()
        return response
