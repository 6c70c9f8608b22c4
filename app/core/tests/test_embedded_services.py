"""The embedded PostgreSQL and Redis of ``make run`` (scripts/stack.py)
accept no one on the machine without their generated passwords, which
only the user who started them can read; older ones without a password
get one; and ``make run`` serves on 127.0.0.1 unless told otherwise.

Real processes: ``stack.py ensure`` in a private ``DATA_DIR``, stopped
at the end."""

import importlib.util
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2
import pytest
import redis

ROOT = Path(__file__).resolve().parents[3]
STACK = ROOT / "scripts" / "stack.py"


def _stack(data_dir, *args):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL")
    }
    env["DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, str(STACK), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("stack") / "data"
    started = _stack(data_dir, "ensure")
    try:
        assert started.returncode == 0, started.stderr
        urls = dict(
            line.split()[0].split("=", 1)
            for line in started.stdout.splitlines()
        )
        yield data_dir, urls
    finally:
        stopped = _stack(data_dir, "stop")
        assert stopped.returncode == 0, stopped.stderr


def _redis_unauthenticated(url):
    """What the Redis at ``url`` answers a client without the password."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), 5) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(256)


def _pg_connect(url, **override):
    parts = urlsplit(url)
    params = {
        "host": parts.hostname,
        "port": parts.port,
        "user": parts.username,
        "password": parts.password,
        "dbname": parts.path.lstrip("/"),
        "connect_timeout": 5,
    }
    params.update(override)
    params = {key: value for key, value in params.items() if value}
    return psycopg2.connect(**params)


def test_redis_refuses_a_client_without_the_password(embedded):
    _, urls = embedded

    assert _redis_unauthenticated(urls["REDIS_URL"]).startswith(b"-NOAUTH")
    assert redis.Redis.from_url(urls["REDIS_URL"]).ping()


def test_postgresql_refuses_a_client_without_the_password(embedded):
    _, urls = embedded
    url = urls["DATABASE_URL"]

    with pytest.raises(psycopg2.OperationalError, match="password"):
        _pg_connect(url, password=None)
    with pytest.raises(psycopg2.OperationalError, match="password"):
        _pg_connect(url, password="guess")
    with pytest.raises(psycopg2.OperationalError, match="password"):
        _pg_connect(url, user="crypto", password=None)
    with _pg_connect(url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_the_passwords_are_readable_by_their_owner_only(embedded):
    data_dir, urls = embedded

    assert stat.S_IMODE((data_dir / "secrets").stat().st_mode) == 0o700
    for path in [
        data_dir / "services.env",
        data_dir / "secrets" / "postgres",
        data_dir / "secrets" / "redis",
        data_dir / "redis" / "redis.conf",
    ]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert not stat.S_IMODE(data_dir.stat().st_mode) & 0o066
    assert (
        urlsplit(urls["REDIS_URL"]).password
        in (data_dir / "services.env").read_text()
    )


def test_services_started_without_passwords_get_them(embedded):
    """As an older stack.py left them: PostgreSQL trusting every local
    connection, Redis with no password. The next start closes both,
    and the URLs still work."""
    data_dir, urls = embedded
    with _pg_connect(urls["DATABASE_URL"]) as connection:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("SHOW hba_file")
            hba = Path(cursor.fetchone()[0])
            hba.write_text("host all all 127.0.0.1/32 trust\n")
            cursor.execute("SELECT pg_reload_conf()")
    redis.Redis.from_url(urls["REDIS_URL"]).config_set("requirepass", "")
    _pg_connect(urls["DATABASE_URL"], password=None).close()
    assert _redis_unauthenticated(urls["REDIS_URL"]).startswith(b"+PONG")

    again = _stack(data_dir, "ensure")

    assert again.returncode == 0, again.stderr
    with pytest.raises(psycopg2.OperationalError, match="password"):
        _pg_connect(urls["DATABASE_URL"], password=None)
    new_redis = dict(
        line.split()[0].split("=", 1) for line in again.stdout.splitlines()
    )["REDIS_URL"]
    assert _redis_unauthenticated(new_redis).startswith(b"-NOAUTH")
    assert redis.Redis.from_url(new_redis).ping()
    _pg_connect(urls["DATABASE_URL"]).close()


def test_make_run_serves_on_loopback_unless_told(monkeypatch):
    spec = importlib.util.spec_from_file_location("stack", STACK)
    stack = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stack)

    monkeypatch.delenv("HOST", raising=False)
    assert stack.web_env({})["HOST"] == "127.0.0.1"
    assert stack.web_env({"HOST": "0.0.0.0"})["HOST"] == "0.0.0.0"
