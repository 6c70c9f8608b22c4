"""The alert rules (deploy/prometheus/alerts.yml): promtool's unit tests
pass, and every alert has a test, a summary and a runbook entry."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
TESTS = ROOT / "deploy" / "prometheus" / "alerts_test.yml"
RUNBOOK = ROOT / "docs" / "operations.md"


def _promtool():
    """promtool, from Debian's `prometheus` package (.ci/run installs
    it). Missing on a developer's machine: skipped; missing in CI: a
    failure."""
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing: .ci/run installs prometheus")
        pytest.skip("promtool not installed (apt-get install prometheus)")
    return path


def _alerts():
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_promtool_checks_the_rules():
    result = subprocess.run(
        [_promtool(), "check", "rules", str(RULES)],
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_of_the_alerts_pass():
    result = subprocess.run(
        [_promtool(), "test", "rules", str(TESTS)],
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_fires_in_a_test_and_has_a_runbook_entry():
    tested = {
        case["alertname"]
        for test in yaml.safe_load(TESTS.read_text())["tests"]
        for case in test["alert_rule_test"]
        if case.get("exp_alerts")
    }
    headings = set(re.findall(r"^### (Broker\w+)$", RUNBOOK.read_text(), re.M))

    for rule in _alerts():
        name = rule["alert"]
        assert name in tested, f"{name} never fires in alerts_test.yml"
        assert rule["annotations"]["summary"].strip(), name
        assert rule["annotations"]["runbook_url"] == (
            f"docs/operations.md#{name.lower()}"
        )
        assert name in headings, f"docs/operations.md has no ### {name}"
