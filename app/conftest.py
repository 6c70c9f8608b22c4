"""Shared fixtures: real PostgreSQL (pytest-django's test database), real
Redis and real RQ workers. Only the exchange's sleep is shortened, by
setting its latency to zero."""

import uuid
from decimal import Decimal
from importlib import import_module
from pathlib import Path

import django_rq
import pytest
from django.contrib.auth import get_user_model
from django.db import connections

from accounts import services as account_services
from accounts.models import ApiToken, Customer, LedgerEntry
from core.testing.clients import token_client
from ledger import movements
from ledger.audit import audit
from orders.models import Order, Purchase

APP_DIR = Path(__file__).resolve().parent
LISTED_CRYPTOS = import_module("orders.migrations.0002_listed_cryptos").CRYPTOS


@pytest.fixture(autouse=True)
def _fast_exchange(settings):
    settings.EXCHANGE_LATENCY_SECONDS = 0
    settings.PURCHASE_RETRY_BASE_SECONDS = 0


@pytest.fixture(autouse=True)
def _fast_password_hasher(request, settings):
    """MD5 instead of PBKDF2 in every test: autouse, so that it is set
    before the operator fixture hashes its password. The deliberate
    slowness of the real hasher buys nothing in a test. Not with the
    services started as processes (``live``): they keep the real
    hasher, so a password a browser logs in with there is hashed with
    it."""
    if "live" in request.fixturenames:
        return
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher"
    ]


@pytest.fixture(autouse=True)
def _private_rate_limits(settings):
    """Rate-limit counters of this test only: a fresh key prefix in the
    shared Redis, so that no test (and no earlier run) spends another's
    requests."""
    cache = dict(settings.CACHES["default"])
    cache["KEY_PREFIX"] = f"test-{uuid.uuid4().hex}"
    settings.CACHES = {**settings.CACHES, "default": cache}


@pytest.fixture(autouse=True)
def _listed_cryptos(request):
    """The cryptos and the house of the data migrations, also in
    transactional tests (whose flush empties every table after each
    test)."""
    marker = request.node.get_closest_marker("django_db")
    names = set(request.fixturenames)
    if marker is None and not names & {"db", "transactional_db"}:
        return
    transactional = "transactional_db" in names or (
        marker is not None and marker.kwargs.get("transaction")
    )
    request.getfixturevalue("transactional_db" if transactional else "db")
    from orders.models import Crypto, Pool

    movements.house_ensure()
    for symbol, name, price in LISTED_CRYPTOS:
        crypto, _ = Crypto.objects.get_or_create(
            symbol=symbol, defaults={"name": name, "price": price}
        )
        Pool.objects.get_or_create(crypto=crypto)


@pytest.fixture
def queue():
    """The real RQ queue on the real Redis, emptied before the test."""
    from orders.doorbell import MARKER_KEY

    queue = django_rq.get_queue("default")
    queue.empty()
    queue.connection.delete(MARKER_KEY)
    yield queue
    queue.empty()
    queue.connection.delete(MARKER_KEY)


@pytest.fixture
def run_worker(queue):
    """Run a real worker (the production class) in burst mode until the
    queue is empty; returns how many jobs were waiting for it."""

    def run():
        waiting = queue.count
        connections.close_all()  # the forked job must not share sockets
        django_rq.get_worker("default").work(burst=True)
        assert queue.count == 0
        return waiting

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
    return token_client(operator.api_token)


@pytest.fixture
def make_customer(db):
    """A customer made by the real service; ``.api_key`` is its key."""

    def make(name="alice", balance=Decimal("100.00")):
        created = account_services.customer_create(name=name, balance=balance)
        created.customer.api_key = created.api_key
        return created.customer

    return make


@pytest.fixture
def client_for():
    def for_customer(customer):
        return token_client(customer.api_key)

    return for_customer


@pytest.fixture
def assert_books_balance():
    def check():
        findings = audit()
        assert not findings, [(f.check.name, f.rows) for f in findings]

    return check


@pytest.fixture
def balance_of(db):
    """``balance_of(customer)``: the customer's balance as stored now."""

    def read(customer):
        return Customer.objects.values_list("balance", flat=True).get(
            pk=customer.pk
        )

    return read


@pytest.fixture
def balances_and_row_counts(db):
    """``balances_and_row_counts()``: what a refused request must leave
    as it was. Every customer's balance, and how many customers, orders,
    ledger entries, purchases and API keys there are."""

    def read():
        return (
            list(Customer.objects.order_by("pk").values_list("pk", "balance")),
            Order.objects.count(),
            LedgerEntry.objects.count(),
            Purchase.objects.count(),
            ApiToken.objects.count(),
        )

    return read


@pytest.fixture
def assert_refused(balances_and_row_counts):
    """``assert_refused(client, path, body, status=400, code="invalid")``:
    POST ``body`` (raw JSON text) to ``path``; it is refused in the
    envelope with ``status`` and ``code``, and nothing is written.
    Returns the error."""

    def check(client, path, body, status=400, code="invalid"):
        before = balances_and_row_counts()
        client.raise_request_exception = False

        response = client.post(path, body, content_type="application/json")

        assert response.status_code == status, (body[:200], response.content)
        assert response["Content-Type"].startswith("application/json")
        error = response.json()["error"]
        assert error["code"] == code, error
        assert isinstance(error["details"], dict)
        assert balances_and_row_counts() == before
        return error

    return check


@pytest.fixture
def live(transactional_db, tmp_path):
    """Start real services for a fault test; all stopped at the end.

    ``live.redis()`` a private Redis; ``live.db_proxy()`` a cuttable proxy
    to the test database, ``live.redis_proxy(redis)`` one to a Redis;
    ``live.web(...)`` the production web server (``serve.py``: granian);
    ``live.worker(...)`` ``manage.py rqworker``.
    """
    from core.testing import live as processes

    class Live:
        def __init__(self):
            self.services, self.redises, self.proxies = [], [], []
            self.database_url = processes.database_url()

        def redis(self):
            server = processes.RedisServer(tmp_path)
            server.start()
            self.redises.append(server)
            return server

        def db_proxy(self):
            db = connections["default"].settings_dict
            proxy = processes.TcpProxy(
                db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
            )
            self.proxies.append(proxy)
            return proxy

        def redis_proxy(self, redis):
            """A proxy to ``redis``; its ``url`` goes through it."""
            proxy = processes.TcpProxy("127.0.0.1", redis.port)
            proxy.url = f"redis://127.0.0.1:{proxy.port}/0"
            self.proxies.append(proxy)
            return proxy

        def url_through(self, proxy):
            db = connections["default"].settings_dict
            user = db.get("USER") or ""
            auth = f"{user}@" if user else ""
            return f"postgres://{auth}127.0.0.1:{proxy.port}/{db['NAME']}"

        def env(self, redis, database_url=None, **extra):
            return processes.service_env(
                database_url or self.database_url, redis.url, **extra
            )

        def web(self, env):
            name = f"web-{len(self.services)}.log"
            service = processes.start_web(env, tmp_path / name)
            self.services.append(service)
            return service

        def worker(self, env):
            name = f"worker-{len(self.services)}.log"
            service = processes.start_worker(env, tmp_path / name)
            self.services.append(service)
            return service

    stack = Live()
    yield stack
    for service in stack.services:
        service.stop()
    for server in stack.redises:
        server.stop()
    for proxy in stack.proxies:
        proxy.close()
    connections.close_all()
