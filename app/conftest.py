"""Shared fixtures: real PostgreSQL (pytest-django's test database), real
Redis and real RQ workers. Only the exchange's sleep is shortened, by
setting its latency to zero."""

import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import django_rq
import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.audit import audit

APP_DIR = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def _fast_exchange(settings):
    settings.EXCHANGE_LATENCY_SECONDS = 0
    settings.PURCHASE_RETRY_BASE_SECONDS = 0


@pytest.fixture
def queue():
    """The real RQ queue on the real Redis, emptied before the test."""
    queue = django_rq.get_queue("default")
    queue.empty()
    yield queue
    queue.empty()


@pytest.fixture
def run_worker(queue):
    """Run a real worker (the production class) in burst mode until the
    queue is empty; returns how many jobs it ran."""

    def run():
        connections.close_all()  # the forked job must not share sockets
        worker = django_rq.get_worker("default")
        worker.work(burst=True)
        return worker.successful_job_count + worker.failed_job_count

    return run


@pytest.fixture
def operator(db):
    user = get_user_model().objects.create_user(
        username="operator", password="s3cret-pass", is_staff=True
    )
    user.api_token = account_services.operator_token_issue(user=user)
    return user


@pytest.fixture
def operator_client(operator):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {operator.api_token}")
    return client


@pytest.fixture
def make_customer(db):
    """A customer made by the real service; ``.api_key`` is its key."""

    def make(name="alice", balance=Decimal("100.00")):
        created = account_services.customer_create(
            name=name, balance=balance
        )
        created.customer.api_key = created.api_key
        return created.customer

    return make


@pytest.fixture
def client_for():
    def for_customer(customer):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {customer.api_key}")
        return client

    return for_customer


@pytest.fixture
def assert_books_balance():
    def check():
        findings = audit()
        assert not findings, [
            (f.check.name, f.rows) for f in findings
        ]

    return check


def database_url():
    """The URL of the test database, for worker subprocesses."""
    db = connections["default"].settings_dict
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    host = db.get("HOST") or "localhost"
    port = db.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{db['NAME']}"


@pytest.fixture
def worker_process(settings):
    """Start ``manage.py rqworker`` as its own process, as in production;
    every worker started is stopped at the end of the test."""
    started = []

    def start(**env):
        environ = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "REDIS_URL": settings.RQ_QUEUES["default"]["URL"],
            "EXCHANGE_LATENCY_SECONDS": "0",
            "SWEEP_INTERVAL_SECONDS": "0.5",
            "PYTHONUNBUFFERED": "1",
            **{key: str(value) for key, value in env.items()},
        }
        process = subprocess.Popen(
            [sys.executable, "manage.py", "rqworker", "default"],
            cwd=APP_DIR,
            env=environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def wait_for(predicate, timeout=30.0, interval=0.1):
    """Poll until ``predicate()`` is true; fail the test on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting")
