"""docker/prometheus/: the alert rules pass their unit tests (alerts_test.yml), with promtool."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from scripts import stack

PROMETHEUS = Path(__file__).resolve().parents[2] / "docker" / "prometheus"


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        # scripts/promtool.sh installs it in make test (as root on Debian) or says why not.
        reason = os.environ.get("SHELF_PROMTOOL_SKIP") or (
            "no promtool on PATH: install Debian's prometheus package (apt-get install prometheus)"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI tests the alert rules, but {reason}", pytrace=False)
        pytest.skip(f"alert rules not tested: {reason}")
    return found


def test_alert_rules_fire_on_the_trouble_they_name_and_stay_quiet_otherwise():
    result = subprocess.run(
        [promtool(), "test", "rules", "alerts_test.yml"],
        cwd=PROMETHEUS, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_compose_and_make_stack_configurations_are_valid(tmp_path):
    local = tmp_path / "prometheus.yml"
    local.write_text(stack.render_prometheus())
    for conf in (PROMETHEUS / "prometheus.yml", local):
        result = subprocess.run(
            [promtool(), "check", "config", str(conf)],
            cwd=PROMETHEUS, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
