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
from pathlib import Path

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
# The two widths every page is checked and photographed at: a laptop and a phone.
VIEWPORTS = {1280: {"width": 1280, "height": 800}, 390: {"width": 390, "height": 844}}
REPO = Path(__file__).resolve().parents[3]
# Where the screenshots go (README, "Screenshots"); SHELF_SCREENSHOTS moves them elsewhere.
SCREENSHOTS = Path(os.environ.get("SHELF_SCREENSHOTS", REPO / "docs" / "screenshots"))
AXE = Path(__file__).with_name("vendor") / "axe.min.js"
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
    """Open a page in a new browser context (its own cookies: another shopper) at a width."""
    contexts = []

    def open_page(width: int = 1280, **options):
        context = browser.new_context(
            base_url=live_server.url, viewport=VIEWPORTS[width], **options
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def demo_catalog(db):
    """A small deterministic demo catalog (8 departments), loaded as `seed_catalog` does."""
    from catalog import demo

    demo.seed_catalog(160, seed=7)


def images_loaded(page) -> None:
    """Wait until every picture in the viewport has loaded, so screenshots are complete."""
    page.wait_for_function(
        """() => [...document.images].filter(img => {
             const r = img.getBoundingClientRect();
             const x = r.left + r.width / 2, y = r.top + r.height / 2;
             if (!r.width || x < 0 || y < 0 || x > innerWidth || y > innerHeight) return false;
             const seen = document.elementFromPoint(x, y);  // not clipped by a scroller
             return seen && (seen === img || seen.contains(img));
           }).every(img => img.complete)"""
    )


def screenshot(page, name: str) -> Path:
    """Save the viewport as docs/screenshots/<name>-<width>.png (small: never the full page)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}-{page.viewport_size['width']}.png"
    images_loaded(page)
    page.screenshot(path=path, animations="disabled", caret="hide")
    return path


def axe_violations(page, impacts=("serious", "critical")) -> list[dict]:
    """Run axe-core (vendored) in the page; the violations of the given impacts."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [v for v in result["violations"] if v["impact"] in impacts]


def describe(violations: list[dict]) -> str:
    """One line per violation, with the first few offending elements."""
    lines = []
    for v in violations:
        targets = ", ".join(" ".join(n["target"]) for n in v["nodes"][:3])
        lines.append(f"{v['impact']}: {v['id']} ({v['help']}) at {targets}")
    return "\n".join(lines)
