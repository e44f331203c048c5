from django.conf import settings
from django.http import HttpRequest

from catalog.selectors import department_menu


def site_values() -> dict:
    """What every page may show of the site (SHELF_SITE_NAME): given to the pages rendered per
    request (`site`), to the shared ones (shelf.pages.register_shared_context, in
    ShopConfig.ready) and to the error pages."""
    return {"SITE_NAME": settings.SITE_NAME}


def site(request: HttpRequest) -> dict:
    return site_values()


def menu(request: HttpRequest) -> dict:
    """The header's department menu for pages rendered per request; shared pages pass their
    own (rendered after recording its tag, see catalog.selectors.department_menu). A callable,
    so a template that never shows it does not read it."""
    return {"menu": department_menu}
