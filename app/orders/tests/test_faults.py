"""The guarantees under real faults: Redis stopped, workers SIGKILLed,
PostgreSQL cut off. Each test drives the production web server and
worker as processes over HTTP, and ends with the books audited."""

import os
import signal
import time
from decimal import Decimal

import pytest

from accounts.models import Customer
from core.testing.live import (
    MIXED_ORDERS,
    http,
    order_over_http,
    post_order,
)
from core.testing.waiting import wait_for
from exchange.models import SimulatedExchangeOrder
from orders.models import Order, Purchase

pytestmark = pytest.mark.django_db(transaction=True)


def _all_completed():
    return (
        Order.objects.exists()
        and not Order.objects.exclude(status="completed").exists()
    )


def _fills_once_per_purchase():
    for purchase in Purchase.objects.all():
        fill = SimulatedExchangeOrder.objects.get(
            client_order_id=purchase.client_order_id
        )
        assert fill.filled_at is not None
        assert fill.amount == purchase.amount


def test_orders_placed_while_redis_is_down_complete_when_it_returns(
    live, make_customer, assert_books_balance
):
    redis = live.redis()
    env = live.env(redis)
    web = live.web(env)
    live.worker(env)
    customers = [make_customer(f"c{i}", Decimal("500.00")) for i in range(4)]

    redis.stop()
    for customer in customers:
        for crypto, amount in (
            ("ETH", "0.01"),  # $32: a purchase of its own
            ("ABAN", "1.5"),  # $6: pooled; every second one flushes
            ("SOL", "1"),  # $150
        ):
            order_over_http(web, customer, crypto, amount)
    assert Order.objects.count() == 12
    assert not Purchase.objects.filter(status="completed").exists()

    redis.start()
    wait_for(_all_completed, timeout=45, what="every order to complete")
    _fills_once_per_purchase()
    assert (
        SimulatedExchangeOrder.objects.filter(calls__gt=1).count() == 0
    ), "a purchase went to the exchange twice"
    assert_books_balance()


def test_a_worker_whose_redis_went_silent_buys_again_soon_after(
    live, make_customer, assert_books_balance
):
    """A Redis host that dies without a reset leaves the worker's
    connection open and silent. The worker notices within its short
    dequeue timeout and buys again once Redis answers: no restart, and
    not RQ's 415 s (about 7 minutes) of every purchase waiting."""
    redis = live.redis()
    proxy = live.redis_proxy(redis)
    web = live.web(live.env(redis))
    live.worker(live.env(redis, REDIS_URL=proxy.url))
    customer = make_customer("c", Decimal("500.00"))
    first = order_over_http(web, customer, "ETH", "0.01")
    wait_for(
        lambda: Order.objects.get(pk=first["id"]).status == "completed",
        timeout=30,
        what="the first order to complete",
    )

    proxy.hang()
    time.sleep(1)
    proxy.restore()  # new connections work; the worker's old one is dead
    second = order_over_http(web, customer, "ETH", "0.01")

    wait_for(
        lambda: Order.objects.get(pk=second["id"]).status == "completed",
        timeout=60,
        what="the order placed after the silence to complete",
    )
    _fills_once_per_purchase()
    assert_books_balance()


@pytest.mark.parametrize("victim", ["horse", "parent", "both"])
def test_worker_killed_mid_exchange_call_completes_once(
    live, make_customer, assert_books_balance, victim
):
    redis = live.redis()
    env = live.env(
        redis,
        EXCHANGE_LATENCY_SECONDS="3",
        PURCHASE_LEASE_SECONDS="2",
    )
    web = live.web(env)
    first = live.worker(env)
    customer = make_customer("kim", Decimal("100.00"))

    order = order_over_http(web, customer, "ETH", "0.01")
    purchase = Purchase.objects.get(pk=order["purchase_id"])
    # The exchange call has started once the exchange has seen the id.
    wait_for(
        lambda: SimulatedExchangeOrder.objects.filter(
            client_order_id=purchase.client_order_id
        ).exists(),
        what="the exchange call to start",
    )
    horses = first.children()
    if victim == "horse":
        assert horses, "the worker should be running a forked horse"
        for pid in horses:
            os.kill(pid, signal.SIGKILL)
    elif victim == "parent":
        os.kill(first.pid, signal.SIGKILL)
    else:
        first.kill(signal.SIGKILL)
    live.worker(env)

    wait_for(
        lambda: Purchase.objects.get(pk=purchase.pk).status == "completed",
        timeout=45,
        what="the purchase to complete after the kill",
    )
    fill = SimulatedExchangeOrder.objects.get(
        client_order_id=purchase.client_order_id
    )
    assert fill.filled_at is not None
    assert fill.amount == purchase.amount
    assert Order.objects.get(pk=order["id"]).status == "completed"
    assert_books_balance()


def test_database_cut_off_answers_503_and_recovers(
    live, make_customer, assert_books_balance
):
    redis = live.redis()
    proxy = live.db_proxy()
    env = live.env(redis, database_url=live.url_through(proxy))
    web = live.web(env)
    customer = make_customer("dee", Decimal("100.00"))
    url = f"{web.url}/api/order/"
    body = {"crypto": "ETH", "amount": "0.01"}

    status, _, _ = http("POST", url, token=customer.api_key, body=body)
    assert status == 201

    proxy.cut()
    for _ in range(3):
        status, answer, _ = http(
            "POST", url, token=customer.api_key, body=body
        )
        assert status == 503, answer
        assert answer["error"]["code"] == "unavailable"
    status, answer, _ = http("GET", f"{web.url}/api/health/")
    assert status == 503
    assert answer["database"] == "unavailable"

    proxy.restore()
    status, answer, _ = http("POST", url, token=customer.api_key, body=body)
    assert status == 201, answer
    assert Order.objects.count() == 2
    assert Customer.objects.get(pk=customer.pk).balance == Decimal("36.00")
    assert_books_balance()


def _money_conserved():
    """One statement, so one snapshot: deposits in equal balances plus
    what was spent on orders that were not refunded."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT
              (SELECT COALESCE(SUM(amount), 0) FROM accounts_ledgerentry
                WHERE kind = 'deposit'),
              (SELECT COALESCE(SUM(balance), 0) FROM accounts_customer),
              (SELECT COALESCE(SUM(total), 0) FROM orders_order
                WHERE status <> 'failed')
            """)
        deposits, balances, spent = cursor.fetchone()
    assert deposits == balances + spent, (deposits, balances, spent)


def test_random_load_with_faults_conserves_money(
    live, make_customer, operator, assert_books_balance
):
    """In the spirit of Jepsen's bank test: many customers, several
    cryptos, small and large orders and deposits, while Redis is stopped
    and started and workers are killed; money is conserved at every
    check, and every order ends completed."""
    import random
    import threading

    rng = random.Random(20261125)
    redis = live.redis()
    env = live.env(redis, PURCHASE_LEASE_SECONDS="2")
    web = live.web(env)
    workers = [live.worker(env)]
    customers = [make_customer(f"j{i}", Decimal("60.00")) for i in range(12)]
    answers, stop = [], threading.Event()

    def client(seed):
        local = random.Random(seed)
        while not stop.is_set():
            customer = local.choice(customers)
            if local.random() < 0.1:
                status, _, _ = http(
                    "POST",
                    f"{web.url}/api/customer/{customer.pk}/deposit/",
                    token=operator.api_token,
                    body={"amount": "5.00"},
                )
            else:
                crypto, amount = local.choice(MIXED_ORDERS)
                status, _ = post_order(web, customer, crypto, amount)
            answers.append(status)

    threads = [
        threading.Thread(target=client, args=(rng.random(),)) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    try:
        for _ in range(3):
            wait_for(lambda: len(answers) > 20, what="load")
            _money_conserved()
            redis.stop()
            _money_conserved()
            redis.start()
            workers[-1].kill()
            workers.append(live.worker(env))
            _money_conserved()
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)

    assert set(answers) <= {200, 201, 400}, set(answers)
    assert answers.count(201) > 20
    # Fill every pool with small orders until none is left pending.
    topper = make_customer("topper", Decimal("1000.00"))
    small = {"ABAN": "0.5", "DOGE": "20"}
    while Order.objects.filter(status="pending").exists():
        crypto = Order.objects.filter(status="pending").first().crypto_id
        order_over_http(web, topper, crypto, small[crypto])
    wait_for(_all_completed, timeout=60, what="every order to complete")
    _money_conserved()
    _fills_once_per_purchase()
    assert_books_balance()
