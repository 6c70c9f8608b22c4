"""docker-compose's monitoring profile: Prometheus with the repository's
rules and scrape config, validated by docker-compose and promtool."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from monitoring.tests.test_alert_rules import _promtool

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = ROOT / "docker-compose.yml"
PROMETHEUS = ROOT / "deploy" / "prometheus"


def _services():
    return yaml.safe_load(COMPOSE.read_text())["services"]


def test_prometheus_is_optional_and_scrapes_the_app_and_the_worker():
    services = _services()
    prometheus = services["prometheus"]
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())

    assert prometheus["profiles"] == ["monitoring"]
    assert ":latest" not in prometheus["image"]
    assert "./deploy/prometheus:/etc/prometheus/broker:ro" in (
        prometheus["volumes"]
    )
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"]
        for job in config["scrape_configs"]
    }
    assert targets == {
        "broker-web": ["app:8000"],
        "broker-worker": ["rqworker:9101"],
    }
    worker = services["rqworker"]["environment"]
    assert worker["WORKER_METRICS_PORT"] == "9101"
    assert "app" in services["app"]["environment"]["DJANGO_ALLOWED_HOSTS"]


@pytest.mark.skipif(
    shutil.which("docker-compose") is None, reason="no docker-compose"
)
def test_docker_compose_accepts_the_monitoring_profile(tmp_path):
    result = subprocess.run(
        [
            "docker-compose",
            "-f",
            str(COMPOSE),
            "--profile",
            "monitoring",
            "config",
            "-q",
        ],
        env={
            **os.environ,
            "DJANGO_SECRET_KEY": "k" * 50,
            "POSTGRES_PASSWORD": "p" * 20,
            "METRICS_TOKEN": "t" * 40,
        },
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stderr


def test_promtool_accepts_the_scrape_config(tmp_path):
    """As the container runs it: the rules beside it, the token in the
    file the container writes."""
    token = tmp_path / "token"
    token.write_text("t" * 40)
    shutil.copy(PROMETHEUS / "alerts.yml", tmp_path / "alerts.yml")
    config = (PROMETHEUS / "prometheus.yml").read_text()
    (tmp_path / "prometheus.yml").write_text(
        config.replace("/prometheus/broker_metrics_token", str(token))
    )

    result = subprocess.run(
        [_promtool(), "check", "config", str(tmp_path / "prometheus.yml")],
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stdout + result.stderr
