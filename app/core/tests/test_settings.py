"""Settings as a deployment sees them: each read in a fresh process from
the environment alone, and Django's deployment checklist."""

import json
import os
import re
import secrets
import subprocess
import sys

import pytest

from core.testing.live import APP_DIR

# The variables these tests set; anything inherited is removed first.
_OURS = (
    "DJANGO_DEBUG",
    "DJANGO_SECURE",
    "DJANGO_SECURE_HSTS_PRELOAD",
    "DJANGO_SECURE_PROXY_SSL_HEADER",
    "DJANGO_SECURE_SSL_REDIRECT",
    "DJANGO_SECURE_HSTS_SECONDS",
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "DJANGO_CSRF_TRUSTED_ORIGINS",
    "DJANGO_SESSION_COOKIE_AGE",
    "ORDER_RATE",
    "TOKEN_RATE",
)
_NAMES = [
    "DEBUG",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_PROXY_SSL_HEADER",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "SECURE_CONTENT_TYPE_NOSNIFF",
    "X_FRAME_OPTIONS",
    "ORDER_RATE",
    "TOKEN_RATE",
    "CACHES",
    "REDIS_URL",
    "DATA_UPLOAD_MAX_MEMORY_SIZE",
]
_PRINT = (
    "import json, django; from django.conf import settings; "
    "django.setup(); "
    f"print(json.dumps({{n: getattr(settings, n) for n in {_NAMES!r}}}, "
    "default=str))"
)


def _env(**overrides):
    env = {k: v for k, v in os.environ.items() if k not in _OURS}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    env["DJANGO_SECRET_KEY"] = secrets.token_urlsafe(50)
    env.update(overrides)
    return env


def _run(argv, **overrides):
    return subprocess.run(
        argv,
        cwd=APP_DIR,
        env=_env(**overrides),
        capture_output=True,
        text=True,
        timeout=60,
    )


def settings_under(**env):
    result = _run([sys.executable, "-c", _PRINT], **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def deploy_check(**env):
    """The ids of the warnings of ``check --deploy``, and its output."""
    result = _run(
        [
            sys.executable,
            "manage.py",
            "check",
            "--deploy",
            "--fail-level",
            "ERROR",
        ],
        **env,
    )
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    return set(re.findall(r"\(([\w.]+\.[WE]\d+)\)", output)), output


def test_debug_is_off_unless_asked_for():
    assert settings_under()["DEBUG"] is False
    assert settings_under(DJANGO_DEBUG="0")["DEBUG"] is False
    assert settings_under(DJANGO_DEBUG="1")["DEBUG"] is True


def test_plain_http_defaults_keep_the_always_on_protections():
    found = settings_under()

    assert found["SECURE_SSL_REDIRECT"] is False
    assert found["SECURE_HSTS_SECONDS"] == 0
    assert found["SESSION_COOKIE_SECURE"] is False
    assert found["SESSION_COOKIE_HTTPONLY"] is True
    assert found["SECURE_CONTENT_TYPE_NOSNIFF"] is True
    assert found["X_FRAME_OPTIONS"] == "DENY"
    assert found["DATA_UPLOAD_MAX_MEMORY_SIZE"] == 64 * 1024


def test_secure_mode_turns_on_https_only_settings():
    found = settings_under(DJANGO_SECURE="1")

    assert found["SECURE_SSL_REDIRECT"] is True
    assert found["SECURE_HSTS_SECONDS"] >= 31536000
    assert found["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert found["SESSION_COOKIE_SECURE"] is True
    assert found["CSRF_COOKIE_SECURE"] is True
    assert found["SECURE_HSTS_PRELOAD"] is False
    assert found["SECURE_PROXY_SSL_HEADER"] is None


def test_proxy_ssl_header_is_trusted_only_when_asked():
    found = settings_under(
        DJANGO_SECURE="1", DJANGO_SECURE_PROXY_SSL_HEADER="1"
    )

    assert found["SECURE_PROXY_SSL_HEADER"] == [
        "HTTP_X_FORWARDED_PROTO",
        "https",
    ]


def test_rates_come_from_the_environment_with_high_defaults():
    defaults = settings_under()
    assert defaults["ORDER_RATE"] == "6000/min"
    assert defaults["TOKEN_RATE"] == "10/min"

    found = settings_under(ORDER_RATE="5/min", TOKEN_RATE="off")

    assert found["ORDER_RATE"] == "5/min"
    assert found["TOKEN_RATE"] is None


@pytest.mark.parametrize("rate", ["5", "5/fortnight", "many/min", "-1/s"])
def test_malformed_rate_stops_the_start(rate):
    result = _run([sys.executable, "-c", _PRINT], ORDER_RATE=rate)

    assert result.returncode != 0
    assert "ORDER_RATE" in result.stderr


def test_cache_is_redis_on_redis_url():
    found = settings_under(REDIS_URL="redis://127.0.0.1:6390/3")

    cache = found["CACHES"]["default"]
    assert cache["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert cache["LOCATION"] == found["REDIS_URL"]
    assert cache["LOCATION"] == "redis://127.0.0.1:6390/3"


# Each can only apply to a deployment served over HTTPS.
PLAIN_HTTP_WARNINGS = {
    "security.W004",  # HSTS
    "security.W008",  # redirect to HTTPS
    "security.W012",  # Secure session cookie
    "security.W016",  # Secure CSRF cookie
}


def test_deploy_check_warns_only_about_https_on_plain_http():
    warnings, output = deploy_check()

    assert warnings <= PLAIN_HTTP_WARNINGS, output


def test_deploy_check_passes_in_secure_mode():
    warnings, output = deploy_check(
        DJANGO_SECURE="1", DJANGO_SECURE_HSTS_PRELOAD="1"
    )

    assert warnings == set(), output
    assert "no issues" in output


def test_deploy_check_in_secure_mode_leaves_only_the_preload_choice():
    warnings, output = deploy_check(DJANGO_SECURE="1")

    assert warnings == {"security.W021"}, output
