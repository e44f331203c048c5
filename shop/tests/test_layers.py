"""The floors of the house: make test runs `lint-imports` on the tree; this shows that an
import against the layers does fail it."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["shelf", "inventory", "catalog", "search", "cart", "orders", "shop", "config"]
LINT = Path(sys.executable).with_name("lint-imports")


def lint(where: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT), "--no-cache"], cwd=where, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the project's packages (Python files only) and pyproject.toml."""
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package,
            tmp_path / package,
            ignore=lambda folder, names: [
                n for n in names if not n.endswith(".py") and not (Path(folder) / n).is_dir()
            ],
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("shelf/core.py", "import catalog.selectors", "The toolkit imports no app"),
        ("catalog/views.py", "from search import services", "Imports only go down"),
        ("cart/views.py", "import search.selectors", "Imports only go down"),
        ("orders/services.py", "from cart import store", "cart's store"),
    ],
)
def test_an_import_against_the_layers_fails_the_check(tree, module, line, broken):
    path = tree / module
    path.write_text(path.read_text() + f"\n{line}  # noqa\n")
    done = lint(tree)
    assert done.returncode != 0
    assert broken in done.stdout.split("Broken contracts")[-1], done.stdout[-3000:]
