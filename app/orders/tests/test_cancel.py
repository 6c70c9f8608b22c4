"""Cancelling a pending order: refunded, out of its pool, ``cancelled``,
in one transaction; never once it is in a purchase. Raced against
flushes and against itself on the real PostgreSQL."""

import time
from decimal import Decimal

import pytest

from accounts.models import LedgerEntry
from core.errors import OrderNotCancellable
from core.testing.threads import run_together
from ledger.movements import house_deposit
from orders import pool
from orders.models import Order, Pool, Purchase
from orders.services import order_cancel, order_place

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("queue"),
]


def place(customer, symbol="ABAN", amount="1.5"):
    return order_place(
        customer_id=customer.pk, symbol=symbol, amount=Decimal(amount)
    )


def cancel(client, order):
    return client.post(f"/api/order/{order.pk}/cancel/")


def test_customer_cancels_a_pending_order_and_gets_its_total_back(
    make_customer, client_for, assert_books_balance, balance_of
):
    alice = make_customer("alice")
    first = place(alice, amount="0.5")  # $2.00
    second = place(alice, amount="1")  # $4.00
    assert balance_of(alice) == Decimal("94.00")

    response = cancel(client_for(alice), first)

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["id"], body["status"], body["pool"]) == (
        first.pk,
        "cancelled",
        None,
    )
    assert balance_of(alice) == Decimal("96.00")
    refund = LedgerEntry.objects.get(order_id=first.pk, kind="refund")
    assert (refund.amount, refund.balance_after) == (
        Decimal("2.00"),
        Decimal("96.00"),
    )
    pool_row = Pool.objects.get(crypto_id="ABAN")
    assert pool_row.pending_total == Decimal("4.00")
    # The pool now waits since the order still in it.
    assert pool_row.waiting_since == second.created_at
    assert Order.objects.get(pk=first.pk).purchase_id is None
    assert_books_balance()


def test_cancelling_the_last_order_empties_the_pool(
    make_customer, operator_client, assert_books_balance, balance_of
):
    alice = make_customer("alice")
    order = place(alice)

    response = cancel(operator_client, order)  # operators may, for anyone

    assert response.status_code == 200, response.content
    pool_row = Pool.objects.get(crypto_id="ABAN")
    assert (pool_row.pending_total, pool_row.waiting_since) == (0, None)
    assert balance_of(alice) == Decimal("100.00")
    assert_books_balance()


@pytest.mark.parametrize(
    ("symbol", "amount"), [("ETH", "0.01"), ("ABAN", "3")]
)
def test_an_order_in_a_purchase_is_not_cancellable(
    make_customer, client_for, symbol, amount, assert_books_balance, balance_of
):
    alice = make_customer("alice")
    order = place(alice, symbol, amount)  # its own purchase, or pool full
    assert order.status == "submitted"
    before = balance_of(alice)

    response = cancel(client_for(alice), order)

    assert response.status_code == 409, response.content
    error = response.json()["error"]
    assert error["code"] == "order_not_cancellable"
    assert error["details"] == {"status": "submitted"}
    assert balance_of(alice) == before
    assert Order.objects.get(pk=order.pk).status == "submitted"
    assert not LedgerEntry.objects.filter(kind="refund").exists()
    assert_books_balance()


def test_a_cancelled_order_cannot_be_cancelled_again(
    make_customer, client_for, assert_books_balance, balance_of
):
    alice = make_customer("alice")
    order = place(alice)
    assert cancel(client_for(alice), order).status_code == 200

    again = cancel(client_for(alice), order)

    assert again.status_code == 409
    assert again.json()["error"]["details"] == {"status": "cancelled"}
    assert balance_of(alice) == Decimal("100.00")
    assert_books_balance()


def test_nobody_cancels_another_customers_order(
    make_customer, client_for, assert_books_balance, balance_of
):
    alice, mallory = make_customer("alice"), make_customer("mallory")
    order = place(alice)

    response = cancel(client_for(mallory), order)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    anonymous = client_for(alice).__class__()
    assert cancel(anonymous, order).status_code == 401
    assert Order.objects.get(pk=order.pk).status == "pending"
    assert balance_of(alice) == Decimal("94.00")
    assert_books_balance()


def test_cancel_with_an_idempotency_key_refunds_once(
    make_customer, client_for, assert_books_balance, balance_of
):
    alice = make_customer("alice")
    order = place(alice)
    client = client_for(alice)
    headers = {"HTTP_IDEMPOTENCY_KEY": "cancel-1"}

    first = client.post(f"/api/order/{order.pk}/cancel/", **headers)
    replay = client.post(f"/api/order/{order.pk}/cancel/", **headers)

    assert first.status_code == replay.status_code == 200
    assert replay.json() == first.json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert LedgerEntry.objects.filter(kind="refund").count() == 1
    assert balance_of(alice) == Decimal("100.00")
    assert_books_balance()


def test_concurrent_cancels_of_one_order_refund_it_once(
    make_customer, assert_books_balance, balance_of
):
    alice = make_customer("alice")
    order = place(alice)

    results = run_together(8, lambda _: order_cancel(order_id=order.pk))

    done = [r for r in results if isinstance(r, Order)]
    refused = [r for r in results if isinstance(r, OrderNotCancellable)]
    assert (len(done), len(refused)) == (1, 7), results
    assert LedgerEntry.objects.filter(kind="refund").count() == 1
    assert balance_of(alice) == Decimal("100.00")
    assert_books_balance()


def test_cancel_racing_the_order_that_fills_the_pool_has_one_winner(
    make_customer, assert_books_balance, balance_of
):
    """Bob's $6 order fills the pool Alice's $6 order waits in, while
    Alice cancels hers: either the cancel wins (Bob's order waits alone)
    or the flush wins (both bought, the cancel refused); never both."""
    for round_ in range(12):
        alice = make_customer(f"alice{round_}")
        bob = make_customer(f"bob{round_}")
        waiting = place(alice)

        def act(index, waiting=waiting, bob=bob):
            if index == 0:
                return order_cancel(order_id=waiting.pk)
            return place(bob)

        cancelled, filler = run_together(2, act)

        if isinstance(cancelled, Order):
            assert Order.objects.get(pk=waiting.pk).status == "cancelled"
            assert filler.status == "pending"
            assert balance_of(alice) == Decimal("100.00")
        else:
            assert isinstance(cancelled, OrderNotCancellable), cancelled
            waiting.refresh_from_db()
            assert waiting.status == "submitted"
            assert waiting.purchase_id == filler.purchase_id
            assert balance_of(alice) == Decimal("94.00")
        assert_books_balance()
        # Empty the pool for the next round.
        for order in Order.objects.filter(status="pending"):
            order_cancel(order_id=order.pk)


def test_cancel_racing_the_house_top_up_has_one_winner(
    settings, make_customer, assert_books_balance
):
    settings.POOL_MAX_WAIT_SECONDS = 0.05
    house_deposit(amount=Decimal("500.00"))
    for round_ in range(8):
        alice = make_customer(f"alice{round_}")
        waiting = place(alice, amount="0.5")  # $2.00
        time.sleep(0.1)

        def act(index, waiting=waiting):
            if index == 0:
                return order_cancel(order_id=waiting.pk)
            return pool.pool_flush_overdue(crypto_id="ABAN")

        cancelled, flushed = run_together(2, act)

        waiting.refresh_from_db()
        if isinstance(cancelled, Order):
            assert flushed is None
            assert waiting.status == "cancelled"
            assert not Purchase.objects.filter(orders__id=waiting.pk).exists()
        else:
            assert isinstance(cancelled, OrderNotCancellable), cancelled
            assert waiting.status == "submitted"
            assert waiting.purchase_id == flushed.purchase_id
        assert_books_balance()
