"""The database backend's health check (core/postgresql/base.py): a
connection the server dropped is replaced before a request uses it, and a
healthy one is checked without a round trip."""

from contextlib import closing

import psycopg2
import pytest
from django.db import connection

from core.testing.live import database_url
from core.testing.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _backend_pid():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _as_admin(sql, params=()):
    """Run ``sql`` on a connection of its own, outside Django's."""
    with closing(psycopg2.connect(database_url())) as admin:
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()


def _start_of_request():
    """What Django does for a persistent connection at each request."""
    connection.close_if_unusable_or_obsolete()
    connection.health_check_done = False
    connection.close_if_health_check_failed()


def test_connection_dropped_by_the_server_is_replaced_before_use():
    pid = _backend_pid()
    raw = connection.connection

    _as_admin("SELECT pg_terminate_backend(%s)", [pid])
    # The server's goodbye reaches the socket shortly after.
    wait_for(lambda: not connection._idle_and_quiet(), timeout=5)
    _start_of_request()

    assert connection.connection is not raw
    assert _backend_pid() != pid  # a new session answered, no error


def test_healthy_idle_connection_is_checked_without_a_query():
    pid = _backend_pid()
    raw = connection.connection

    _start_of_request()

    assert connection.connection is raw
    assert connection.health_check_done
    # The session's last statement is still ours: no SELECT 1 was sent.
    [(last,)] = _as_admin(
        "SELECT query FROM pg_stat_activity WHERE pid = %s", [pid]
    )
    assert last == "SELECT pg_backend_pid()"
