"""Coalescing: a job takes every purchase ready when it starts, one
exchange call per crypto, and never merges a purchase already sent."""

from decimal import Decimal

import pytest

from exchange.models import SimulatedExchangeOrder
from orders import jobs, services
from orders.models import Order, Purchase

pytestmark = pytest.mark.django_db(transaction=True)


def _place(customer, symbol, amount):
    return services.order_place(
        customer_id=customer.pk, symbol=symbol, amount=Decimal(amount)
    )


def test_ready_purchases_of_a_crypto_are_bought_in_one_call(
    make_customer, run_worker, assert_books_balance
):
    customer = make_customer("burst", Decimal("100000.00"))
    for _ in range(5):
        _place(customer, "ETH", "0.01")  # $32, a purchase each
    for _ in range(3):
        _place(customer, "BTC", "0.001")  # $65, a purchase each
    for _ in range(4):
        _place(customer, "ABAN", "1.5")  # $6: two pool flushes
    assert Purchase.objects.count() == 10

    run_worker()

    assert SimulatedExchangeOrder.objects.count() == 3
    purchases = {p.crypto_id: p for p in Purchase.objects.all()}
    assert set(purchases) == {"ETH", "BTC", "ABAN"}
    assert purchases["ETH"].amount == Decimal("0.05")
    assert purchases["ETH"].total == Decimal("160.00")
    assert purchases["BTC"].total == Decimal("195.00")
    assert purchases["ABAN"].total == Decimal("24.00")
    for purchase in purchases.values():
        assert purchase.status == "completed"
        fill = SimulatedExchangeOrder.objects.get(
            client_order_id=purchase.client_order_id
        )
        assert fill.amount == purchase.amount
    assert not Order.objects.exclude(status="completed").exists()
    assert_books_balance()


def test_purchase_already_sent_is_never_merged(
    make_customer, assert_books_balance
):
    customer = make_customer("retry", Decimal("1000.00"))
    sent = Purchase.objects.get(pk=_place(customer, "ETH", "0.01").purchase_id)
    # It went to the exchange once and waits for its retry: the exchange
    # may hold a fill for its client order id and amount.
    Purchase.objects.filter(pk=sent.pk).update(attempts=1)
    fresh = [_place(customer, "ETH", "0.01").purchase_id for _ in range(2)]

    claims = services.purchases_claim_ready(owner="test")

    by_id = {claim.purchase.pk: claim for claim in claims}
    assert set(by_id) == {sent.pk, fresh[0]}
    assert by_id[sent.pk].absorbed == []
    assert by_id[fresh[0]].absorbed == [fresh[1]]
    kept = Purchase.objects.get(pk=sent.pk)
    assert kept.amount == Decimal("0.01")
    assert kept.client_order_id == sent.client_order_id
    assert Purchase.objects.get(pk=fresh[0]).total == Decimal("64.00")
    assert not Purchase.objects.filter(pk=fresh[1]).exists()
    assert_books_balance()


def test_job_for_a_merged_purchase_reports_the_merged_outcome(
    make_customer, assert_books_balance
):
    customer = make_customer("merge", Decimal("1000.00"))
    first = _place(customer, "SOL", "0.1").purchase_id
    second = _place(customer, "SOL", "0.1").purchase_id

    assert jobs.purchase_execute(second) == "completed"
    assert jobs.purchase_execute(first) == "skipped"
    assert SimulatedExchangeOrder.objects.count() == 1
    assert Order.objects.filter(purchase_id=first).count() == 2
    assert_books_balance()
