"""Small template helpers for the shop's pages. No database, no request: shared pages use them."""

from django import template

register = template.Library()


@register.simple_tag
def page_window(page: int, pages: int, around: int = 2) -> list[dict | None]:
    """The page numbers a pagination bar shows: the first, the last, and `around` either side
    of `page`, with None where numbers are left out. `near` marks the ones narrow screens keep."""
    shown = sorted({1, pages, *range(max(1, page - around), min(pages, page + around) + 1)})
    window: list[dict | None] = []
    for n in shown:
        if window and window[-1] is not None and n > window[-1]["number"] + 1:
            window.append(None)
        window.append({"number": n, "near": n in (1, pages) or abs(n - page) <= 1})
    return window
