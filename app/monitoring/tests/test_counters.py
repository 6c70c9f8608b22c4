"""The counters, incremented where things happen. Read from this test
process's own metric files, so that another process writing into the
same directory cannot change what a test sees."""

import os
from decimal import Decimal

import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from rest_framework.test import APIClient

from monitoring import multiproc

pytestmark = pytest.mark.django_db


def counted(name, **labels):
    files = multiproc.own_files(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    for family in MultiProcessCollector.merge(files):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


def test_orders_are_counted_by_strategy_and_outcome(
    make_customer, client_for, queue
):
    client = client_for(make_customer(balance=Decimal("40.00")))
    before = {
        key: counted("broker_orders_total", strategy=key[0], outcome=key[1])
        for key in [
            ("small", "placed"),
            ("large", "placed"),
            ("large", "insufficient_funds"),
        ]
    }

    for crypto, amount in [("ABAN", "1"), ("ETH", "0.01"), ("ETH", "0.1")]:
        client.post(
            "/api/order/", {"crypto": crypto, "amount": amount}, format="json"
        )

    for key, value in before.items():
        after = counted("broker_orders_total", strategy=key[0], outcome=key[1])
        assert after == value + 1, key


def test_a_request_is_counted_and_timed_by_view(make_customer, client_for):
    client = client_for(make_customer())
    labels = {"method": "POST", "view": "order-list", "status": "201"}
    before = counted("broker_http_requests_total", **labels)
    timed = counted(
        "broker_http_request_duration_seconds_count",
        method="POST",
        view="order-list",
    )

    client.post(
        "/api/order/", {"crypto": "ABAN", "amount": "1"}, format="json"
    )

    assert counted("broker_http_requests_total", **labels) == before + 1
    assert (
        counted(
            "broker_http_request_duration_seconds_count",
            method="POST",
            view="order-list",
        )
        == timed + 1
    )


def test_replays_and_failed_logins_are_counted(make_customer, client_for):
    client = client_for(make_customer())
    replays = counted("broker_idempotent_replays_total")
    failed = counted("broker_failed_logins_total")
    body = {"crypto": "ABAN", "amount": "1"}

    for _ in range(2):
        client.post(
            "/api/order/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
        )
    APIClient().post(
        "/api/token/",
        {"username": "nobody", "password": "wrong"},
        format="json",
    )

    assert counted("broker_idempotent_replays_total") == replays + 1
    assert counted("broker_failed_logins_total") == failed + 1


@pytest.mark.django_db(transaction=True)
def test_a_cancel_is_a_refund(make_customer, client_for):
    client = client_for(make_customer())
    order = client.post(
        "/api/order/", {"crypto": "ABAN", "amount": "1"}, format="json"
    ).json()
    before = counted("broker_order_refunds_total", reason="order_cancelled")

    assert client.post(f"/api/order/{order['id']}/cancel/").status_code == 200

    assert (
        counted("broker_order_refunds_total", reason="order_cancelled")
        == before + 1
    )


@pytest.mark.django_db(transaction=True)
def test_exchange_calls_purchases_and_refunds_are_counted(
    make_customer, client_for, run_worker, settings
):
    """The job runs in a forked work horse, which writes as its worker
    (``<pid>h``): this process's own files hold its counts."""
    settings.EXCHANGE_REJECT_CRYPTOS = ["SOL"]
    client = client_for(make_customer(balance=Decimal("500.00")))
    names = [
        ("broker_exchange_calls_total", {"outcome": "filled"}),
        ("broker_exchange_calls_total", {"outcome": "rejected"}),
        ("broker_purchases_finished_total", {"status": "completed"}),
        ("broker_purchases_finished_total", {"status": "failed"}),
        ("broker_order_refunds_total", {"reason": "purchase_failed"}),
        ("broker_exchange_call_duration_seconds_count", {}),
    ]
    before = [counted(name, **labels) for name, labels in names]

    client.post(
        "/api/order/", {"crypto": "ETH", "amount": "0.01"}, format="json"
    )
    run_worker()
    client.post("/api/order/", {"crypto": "SOL", "amount": "1"}, format="json")
    run_worker()

    after = [counted(name, **labels) for name, labels in names]
    assert [b - a for a, b in zip(before, after, strict=True)] == [
        1, 1, 1, 1, 1, 2,
    ]  # fmt: skip
    horse = f"counter_{os.getpid()}h.db"
    assert horse in os.listdir(os.environ["PROMETHEUS_MULTIPROC_DIR"])
