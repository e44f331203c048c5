from django.conf import settings
from django.http import HttpRequest

from catalog.selectors import department_menu


def site(request: HttpRequest) -> dict:
    return {"SITE_NAME": settings.SITE_NAME}


def menu(request: HttpRequest) -> dict:
    """The header's department menu for pages rendered per request; shared pages pass their
    own (rendered after recording its tag, see catalog.selectors.department_menu). A callable,
    so a template that never shows it does not read it."""
    return {"menu": department_menu}
