"""Templates build the shop's links with {% url %} (and {% static %}), never a hard-coded path."""

import re

import pytest
from django.conf import settings
from django.urls import NoReverseMatch, reverse

TEMPLATES = settings.BASE_DIR / "templates"
# An internal path written out in a link, a form, an htmx request or a `"next"` in hx-vals.
# `//host/...` is an external, protocol-relative URL, and "?..." / "#..." stay on the page.
HARD_CODED = re.compile(
    r"""\b(?:href|src|action|formaction|hx-(?:get|post|put|patch|delete))\s*=\s*["']/(?!/)"""
    r"""|"next"\s*:\s*"/(?!/)"""
)
URL_TAG = re.compile(r"""{%\s*url\s+(['"])([^'"]+)\1(.*?)%}""")


def template_files():
    files = sorted(p for p in TEMPLATES.rglob("*") if p.is_file())
    assert files, f"no templates found under {TEMPLATES}"
    return files


def test_no_template_has_a_hard_coded_internal_link():
    found = [
        f"{path.relative_to(TEMPLATES)}:{number}: {match.group(0)}"
        for path in template_files()
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        for match in HARD_CODED.finditer(line)
    ]
    assert not found, "use {% url %} (or {% static %}) instead of:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "line",
    [
        '<a href="/cart/">',
        "<a href='/p/{{ p.slug }}/'>",
        '<img src="/static/shop/logo.svg">',
        '<form action="/checkout/place/">',
        '<button hx-post="/cart/add/">',
        '<div hx-get="/cart/badge/">',
        """hx-vals='{"next": "/cart/badge/"}'""",
    ],
)
def test_the_check_catches_hard_coded_paths(line):
    assert HARD_CODED.search(line)


@pytest.mark.parametrize(
    "line",
    [
        """<a href="{% url 'cart:detail' %}">""",
        """<img src="{% static 'shop/favicon.svg' %}">""",
        '<a href="https://example.com/">',
        '<a href="//cdn.example.com/x.js">',
        '<a href="?page=2">',
        '<a href="#main">',
        '<a href="">',
        """hx-vals='{"next": "{% url 'cart:badge' %}"}'""",
    ],
)
def test_the_check_lets_url_tags_and_page_links_through(line):
    assert not HARD_CODED.search(line)


def test_every_url_name_in_the_templates_exists():
    """A misspelt name fails only when its page renders: check them all here at once."""
    missing = []
    for path in template_files():
        for _, name, rest in URL_TAG.findall(path.read_text()):
            args = rest.split(" as ")[0].split()
            # A quoted argument is used as written (a page name); a variable stands for "1".
            values = [a[1:-1] if a[:1] in "'\"" else "1" for a in args]
            try:
                reverse(name, args=values)
            except NoReverseMatch:
                missing.append(f"{path.relative_to(TEMPLATES)}: {name} ({len(args)} args)")
    assert not missing, "unknown URL names or argument counts:\n" + "\n".join(missing)
