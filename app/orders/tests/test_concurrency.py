"""Orders placed at the same moment from many threads, each with its own
database connection, against the real PostgreSQL: no balance below
zero, no lost debit, no order in two purchases, no pool out of step."""

from decimal import Decimal

import pytest
from django.db.models import Count, Sum

from accounts.models import Customer, LedgerEntry
from core.errors import InsufficientFunds
from core.testing.threads import run_together
from orders.models import Order, Pool, Purchase
from orders.services import order_place

# The queue fixture empties Redis of the jobs these orders ring.
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("queue"),
]


def test_forty_api_orders_against_twenty_orders_of_balance(
    make_customer, client_for, queue, assert_books_balance
):
    customer = make_customer(balance=Decimal("200.00"))

    def post_order(_):
        # One client per thread: a test client is not thread-safe.
        response = client_for(customer).post(
            "/api/order/", {"crypto": "ABAN", "amount": "2.5"}, format="json"
        )  # 10.00: at the threshold, a purchase of its own
        return response.status_code, response.json()

    results = run_together(40, post_order)

    statuses = [status for status, _ in results]
    assert statuses.count(201) == 20, results
    assert statuses.count(400) == 20, results
    refusals = [body for status, body in results if status == 400]
    assert {body["error"]["code"] for body in refusals} == {
        "insufficient_funds"
    }
    assert Customer.objects.get(pk=customer.pk).balance == Decimal("0.00")
    entries = LedgerEntry.objects.filter(
        customer=customer, kind=LedgerEntry.Kind.ORDER
    )
    assert entries.count() == 20
    assert sorted(e.balance_after for e in entries) == [
        Decimal(10 * i) for i in range(20)
    ]
    created = {body["id"] for status, body in results if status == 201}
    assert set(Order.objects.values_list("id", flat=True)) == created
    assert Purchase.objects.count() == 20
    # Twenty purchases, one doorbell: while a job waits in the queue, it
    # will take every purchase ready when it starts.
    assert queue.count == 1
    assert_books_balance()


def test_forty_service_orders_never_overdraw(
    make_customer, assert_books_balance
):
    customer = make_customer(balance=Decimal("200.00"))

    results = run_together(
        40,
        lambda _: order_place(
            customer_id=customer.pk, symbol="ABAN", amount=Decimal("2.5")
        ),
    )

    placed = [r for r in results if isinstance(r, Order)]
    refused = [r for r in results if isinstance(r, InsufficientFunds)]
    assert (len(placed), len(refused)) == (20, 20), results
    assert Customer.objects.get(pk=customer.pk).balance == Decimal("0.00")
    assert (
        LedgerEntry.objects.filter(kind=LedgerEntry.Kind.ORDER).count() == 20
    )
    assert_books_balance()


def test_concurrent_small_orders_pool_into_whole_purchases(
    make_customer, client_for, assert_books_balance
):
    # 32 orders of 2.00 = 64.00. An order that tips the pool flushes it
    # right after its own commit, taking every order pending by then, so
    # a purchase may carry more than five of them; each is a whole one.
    customers = [make_customer(f"c{i}") for i in range(32)]

    def post_order(index):
        response = client_for(customers[index]).post(
            "/api/order/", {"crypto": "ABAN", "amount": "0.5"}, format="json"
        )
        return response.status_code

    results = run_together(32, post_order)

    assert results == [201] * 32
    purchases = Purchase.objects.annotate(
        orders_total=Sum("orders__total"),
        orders_amount=Sum("orders__amount"),
        order_count=Count("orders"),
    )
    for purchase in purchases:
        assert purchase.total >= Decimal("10")
        assert purchase.total == purchase.orders_total
        assert purchase.amount == purchase.orders_amount
    submitted = Order.objects.filter(status=Order.Status.SUBMITTED)
    pending = Order.objects.filter(status=Order.Status.PENDING)
    assert submitted.count() == sum(p.order_count for p in purchases)
    assert submitted.count() + pending.count() == 32
    pending_total = pending.aggregate(s=Sum("total"))["s"] or Decimal(0)
    # Every order is in one purchase or waiting in the pool, and once
    # every request has answered, the pool holds less than a purchase.
    assert sum(p.total for p in purchases) + pending_total == Decimal("64")
    assert pending_total < Decimal("10")
    assert Pool.objects.get(crypto_id="ABAN").pending_total == pending_total
    for customer in customers:
        assert Customer.objects.get(pk=customer.pk).balance == Decimal("98.00")
    assert_books_balance()


def test_concurrent_small_and_large_orders_of_one_customer_balance(
    make_customer, assert_books_balance
):
    # Debits (customer row) and pool flushes (pool row) interleave: the
    # fixed lock order must neither deadlock nor lose a cent.
    customer = make_customer(balance=Decimal("100.00"))
    amounts = ["0.75", "2.5"] * 12  # 3.00 and 10.00: 156.00 wanted

    results = run_together(
        len(amounts),
        lambda i: order_place(
            customer_id=customer.pk,
            symbol="ABAN",
            amount=Decimal(amounts[i]),
        ),
    )

    unexpected = [
        r for r in results if not isinstance(r, Order | InsufficientFunds)
    ]
    assert unexpected == []
    placed = [r for r in results if isinstance(r, Order)]
    spent = sum((order.total for order in placed), Decimal(0))
    balance = Customer.objects.get(pk=customer.pk).balance
    assert balance == Decimal("100.00") - spent
    # A refusal means the balance was below that total, and it only fell.
    refused = [
        Decimal("4.00") * Decimal(amounts[i])
        for i, r in enumerate(results)
        if isinstance(r, InsufficientFunds)
    ]
    assert Decimal(0) <= balance < min(refused)
    assert_books_balance()
