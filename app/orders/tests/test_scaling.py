"""The first step past one machine, proven on this one: two web servers
on their own ports and four workers share one PostgreSQL and one Redis
under concurrent mixed load on both servers. Every order ends completed,
refunded or cancelled, each in at most one purchase bought once, and the
books balance (docs/scaling.md)."""

import random
import threading
from decimal import Decimal

import pytest

from core.testing.live import MIXED_ORDERS, http, post_order
from core.testing.waiting import wait_for
from exchange.models import SimulatedExchangeOrder
from ledger.movements import house_deposit
from orders.models import Order, Purchase

pytestmark = pytest.mark.django_db(transaction=True)


def _settled():
    return not Order.objects.filter(
        status__in=["pending", "submitted"]
    ).exists()


def test_two_web_servers_and_four_workers_share_the_books(
    live, make_customer, assert_books_balance
):
    redis = live.redis()
    env = live.env(
        redis,
        EXCHANGE_REJECT_CRYPTOS="SOL",  # its orders are refunded
        POOL_MAX_WAIT_SECONDS="2",
    )
    servers = [live.web(env), live.web(env)]
    for _ in range(4):
        live.worker(env)
    house_deposit(amount=Decimal("1000.00"))
    customers = [make_customer(f"s{i}", Decimal("80.00")) for i in range(10)]
    answers, placed, lock = [], [], threading.Lock()

    def client(index):
        local = random.Random(index)
        web = servers[index % 2]
        for _ in range(25):
            customer = local.choice(customers)
            crypto, amount = local.choice(MIXED_ORDERS)
            status, body = post_order(web, customer, crypto, amount)
            with lock:
                answers.append(status)
            if status != 201:
                continue
            if body["status"] == "pending" and local.random() < 0.3:
                # Cancelled through the other server, racing the flush.
                other = servers[(index + 1) % 2]
                status, _, _ = http(
                    "POST",
                    f"{other.url}/api/order/{body['id']}/cancel/",
                    token=customer.api_key,
                )
                assert status in (200, 409), status
            with lock:
                placed.append(body["id"])

    threads = [threading.Thread(target=client, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)

    assert set(answers) <= {201, 400}, set(answers)  # 400: out of funds
    assert answers.count(201) >= 60
    wait_for(_settled, timeout=90, what="every order to settle")
    statuses = set(Order.objects.values_list("status", flat=True))
    assert statuses <= {"completed", "failed", "cancelled"}, statuses
    assert Order.objects.filter(status="failed", crypto_id="SOL").exists()
    assert (
        not Order.objects.filter(status="failed")
        .exclude(crypto_id="SOL")
        .exists()
    )
    for purchase in Purchase.objects.exclude(status="failed"):
        fill = SimulatedExchangeOrder.objects.get(
            client_order_id=purchase.client_order_id
        )
        assert (fill.calls, fill.amount) == (1, purchase.amount)
    assert_books_balance()
