"""Browser fixtures for the end-to-end tests: the system's Chromium, driven by Playwright, against
the shop served by pytest-django's live server.

Why the live server and not a gunicorn: it runs in a thread of this process with the test
settings, the test database and the test Redis databases, so a test can set the scene through
the ORM and services and see exactly the shelf the pages are served from; the shelf's Redis
clients and the database connections are per thread, as under gunicorn's threads. A gunicorn
would need the test database's name and every Redis URL passed to another process, and a second
copy of the app to keep in step.

The browser is the system's (`/usr/bin/chromium`, from Debian's packages; scripts/browser.sh
installs it): Playwright's own browser download does not work here. Without it the tests skip,
saying what to install, except in CI (CI=true), where they fail.
"""

import os
from collections.abc import Callable, Iterator

import pytest

CHROMIUM = os.environ.get("SHELF_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The widths pages are checked at: a laptop, a phone and the narrowest phone still sold (320).
VIEWPORTS = {
    1280: {"width": 1280, "height": 800},
    390: {"width": 390, "height": 844},
    320: {"width": 320, "height": 640},
}
TIMEOUT_MS = 15_000


def _missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    told = os.environ.get("SHELF_E2E_SKIP")
    if told:
        return told
    if not os.access(CHROMIUM, os.X_OK):
        return (
            f"no Chromium at {CHROMIUM}: install it with `apt-get install chromium` "
            "(Debian, as root), or point SHELF_CHROMIUM at one"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing: make venv installs requirements-dev.txt"
    return None


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium per test module, with a fresh, empty profile."""
    missing = _missing()
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI runs the browser tests, but {missing}", pytrace=False)
        pytest.skip(f"browser tests skipped: {missing}")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an asyncio loop in this thread, and Django refuses ORM calls
    # from a thread with a running loop. The tests' ORM calls are plain synchronous code (the
    # loop only waits for the browser), so lift the check while the browser is up.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
            try:
                yield chromium
            finally:
                chromium.close()


@pytest.fixture
def new_page(browser, live_server) -> Iterator[Callable]:
    """Open a page in a new browser context (its own cookies: another shopper) at a width.

    Every page of every browser test also checks the Content-Security-Policy: Chromium reports
    each blocked script, style, image or form target on the console, and any such report
    fails the test after it ran.
    """
    contexts = []
    violations: list[str] = []

    def record(message) -> None:
        if "Content Security Policy" in message.text:
            violations.append(f"{message.page.url if message.page else '?'}: {message.text}")

    def open_page(width: int = 1280, **options):
        context = browser.new_context(
            base_url=live_server.url, viewport=VIEWPORTS[width], **options
        )
        context.set_default_timeout(TIMEOUT_MS)
        context.on("console", record)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()
    assert not violations, "Content-Security-Policy violations:\n" + "\n".join(violations)


@pytest.fixture
def demo_catalog(db):
    """A small deterministic demo catalog (8 departments), loaded as `seed_catalog` does."""
    from catalog import demo

    demo.seed_catalog(160, seed=7)
