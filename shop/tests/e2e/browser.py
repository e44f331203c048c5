"""Helpers for the browser tests: screenshots and axe-core checks."""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
# Where the screenshots go: an ignored folder, because order numbers and dates differ on every
# run and `make test` must leave the tree clean. `make screenshots` points SHELF_SCREENSHOTS at
# the committed docs/screenshots/ (README, "Screenshots").
SCREENSHOTS = Path(os.environ.get("SHELF_SCREENSHOTS", REPO / ".local" / "screenshots"))
AXE = Path(__file__).with_name("vendor") / "axe.min.js"


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
    """Save the viewport as SCREENSHOTS/<name>-<width>.png (small: never the full page)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}-{page.viewport_size['width']}.png"
    images_loaded(page)
    page.screenshot(path=path, animations="disabled", caret="hide")
    return path


def axe_violations(page, impacts=("serious", "critical")) -> list[dict]:
    """Run axe-core (vendored) in the page; the violations of the given impacts."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol, not as a <script> tag: the page's
        # Content-Security-Policy (scripts from our static files only) would block the tag.
        page.evaluate(AXE.read_text() + "\n;undefined")
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [v for v in result["violations"] if v["impact"] in impacts]


def describe(violations: list[dict]) -> str:
    """One line per violation, with the first few offending elements."""
    lines = []
    for v in violations:
        targets = ", ".join(" ".join(n["target"]) for n in v["nodes"][:3])
        lines.append(f"{v['impact']}: {v['id']} ({v['help']}) at {targets}")
    return "\n".join(lines)
