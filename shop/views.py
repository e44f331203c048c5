from django.http import HttpRequest, HttpResponse

from .pages import render_page


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """The shop's 404 page, with the visitor's header like every other page."""
    return render_page(request, "404.html", {}, status=404)
