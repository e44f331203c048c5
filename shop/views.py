from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """The shop's 404 page, with the visitor's header like every other page."""
    return render(request, "404.html", {}, status=404)
