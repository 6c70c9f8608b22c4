"""The bench's own database and Redis database, and Django in this
process pointed at them: the seeding and the counts go through the
app's models."""

import os
from urllib.parse import urlsplit, urlunsplit

import psycopg2

from bench.common import say


def bench_database_url(url):
    """The URL with its database name suffixed ``_bench``, and the name."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/") or "crypto"
    if not name.endswith("_bench"):
        name = f"{name}_bench"
    return urlunsplit(parts._replace(path=f"/{name}")), name


def bench_redis_url(url):
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/9"))


def redacted(url):
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def create_database(url, name, recreate):
    """Create the database ``name`` (dropped first with ``recreate``),
    through the server's ``postgres`` database."""
    admin_url = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            exists = cur.fetchone() is not None
            if exists and recreate:
                say(f"dropping database {name} (the bench's own)")
                cur.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
                exists = False
            if not exists:
                say(f"creating database {name}")
                cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()


def setup_django(env):
    """Django's settings from ``env`` (the service's: the bench database
    and Redis), the app's code on sys.path (bench/run.py puts it
    there). The bench's modules that use models import after this."""
    import django

    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
