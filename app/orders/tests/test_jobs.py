"""The worker's side: ``orders.jobs.purchase_execute`` run by the real
RQ worker (or in-process), the simulated exchange's faults, retries,
refunds, and the sweeper rescuing a purchase whose worker died."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Customer, LedgerEntry
from exchange.models import SimulatedExchangeOrder
from orders import jobs
from orders.models import Order, Purchase
from orders.services import order_place
from orders.sweeper import sweep

pytestmark = pytest.mark.django_db(transaction=True)


def place(customer, symbol, amount):
    return order_place(
        customer_id=customer.pk, symbol=symbol, amount=Decimal(amount)
    )


def fills_of(purchase):
    return SimulatedExchangeOrder.objects.filter(
        client_order_id=purchase.client_order_id
    )


def run_until_finished(purchase, limit=10):
    """Run the job in-process, as a worker would on each ring, until the
    purchase is done; the results in order."""
    results = []
    for _ in range(limit):
        results.append(jobs.purchase_execute(purchase.pk))
        purchase.refresh_from_db()
        if purchase.status in (
            Purchase.Status.COMPLETED,
            Purchase.Status.FAILED,
        ):
            return results
    raise AssertionError(f"not finished after {limit} runs: {results}")


def work(queue, run_worker):
    """Run the real worker until the queue is empty; how many jobs it
    took. (``run_worker()``'s own count stays 0: the forked work horse
    counts in Redis, not in the parent's worker object.)"""
    waiting = queue.count
    failed = queue.failed_job_registry.count
    run_worker()
    assert queue.count == 0
    assert queue.failed_job_registry.count == failed, "a job raised"
    return waiting


def assert_completed_once(purchase):
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.COMPLETED
    assert purchase.completed_at is not None
    assert set(purchase.orders.values_list("status", flat=True)) == {
        Order.Status.COMPLETED
    }
    fill = fills_of(purchase).get()
    assert fill.filled_at is not None
    assert fill.amount == purchase.amount
    assert fill.crypto == purchase.crypto_id
    return fill


def assert_failed_and_refunded(purchase, customers, opening):
    purchase.refresh_from_db()
    assert purchase.status == Purchase.Status.FAILED
    assert purchase.last_error
    orders = list(purchase.orders.all())
    assert {order.status for order in orders} == {Order.Status.FAILED}
    for order in orders:
        refund = LedgerEntry.objects.get(
            order=order, kind=LedgerEntry.Kind.REFUND
        )
        assert refund.customer_id == order.customer_id
        assert refund.amount == order.total
    for customer in customers:
        assert Customer.objects.get(pk=customer.pk).balance == opening
        latest = LedgerEntry.objects.filter(customer=customer).latest("id")
        assert latest.kind == LedgerEntry.Kind.REFUND
        assert latest.balance_after == opening
    assert not fills_of(purchase).filter(filled_at__isnull=False).exists()


def test_worker_completes_large_order_with_one_fill(
    make_customer, queue, run_worker, assert_books_balance
):
    customer = make_customer()
    order = place(customer, "ETH", "0.01")  # 32.00, rung at commit

    assert work(queue, run_worker) == 1

    fill = assert_completed_once(order.purchase)
    assert fill.calls == 1
    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED
    assert order.purchase.attempts == 1
    assert Customer.objects.get(pk=customer.pk).balance == Decimal("68.00")
    assert_books_balance()


def test_worker_completes_pooled_purchase_of_many_customers(
    make_customer, queue, run_worker, assert_books_balance
):
    customers = [make_customer(f"c{i}") for i in range(3)]
    orders = [place(c, "SOL", "0.03") for c in customers]  # 4.50 each

    assert work(queue, run_worker) == 1

    purchase = orders[-1].purchase
    assert purchase.total == Decimal("13.50")
    assert_completed_once(purchase)
    assert purchase.orders.count() == 3
    assert_books_balance()


def test_job_run_twice_for_one_purchase_buys_once(
    make_customer, queue, assert_books_balance
):
    order = place(make_customer(), "ETH", "0.01")

    first = jobs.purchase_execute(order.purchase_id)
    second = jobs.purchase_execute(order.purchase_id)

    assert (first, second) == ("completed", "skipped")
    fill = assert_completed_once(order.purchase)
    assert fill.calls == 1
    assert_books_balance()


def test_worker_running_two_rings_of_one_purchase_buys_once(
    make_customer, queue, run_worker, assert_books_balance
):
    order = place(make_customer(), "ETH", "0.01")
    jobs_before = queue.count
    # The sweeper, or a doorbell repeated, rings the same purchase again.
    queue.enqueue("orders.jobs.purchase_execute", order.purchase_id)

    assert (jobs_before, work(queue, run_worker)) == (1, 2)

    fill = assert_completed_once(order.purchase)
    assert fill.calls == 1
    assert_books_balance()


def test_transient_failures_are_retried_until_the_purchase_completes(
    settings, make_customer, queue, assert_books_balance
):
    settings.EXCHANGE_TRANSIENT_FAILURES = 2
    settings.PURCHASE_MAX_ATTEMPTS = 5
    order = place(make_customer(), "ETH", "0.01")

    results = run_until_finished(order.purchase)

    assert results == ["retrying", "retrying", "completed"]
    purchase = order.purchase
    fill = assert_completed_once(purchase)
    assert purchase.attempts == 3
    assert fill.calls == 3  # two refusals that bought nothing, one fill
    assert purchase.last_error == ""
    assert_books_balance()


def test_retry_waits_for_its_backoff(
    settings, make_customer, queue, assert_books_balance
):
    settings.EXCHANGE_TRANSIENT_FAILURES = 1
    settings.PURCHASE_RETRY_BASE_SECONDS = 30
    order = place(make_customer(), "ETH", "0.01")

    results = [jobs.purchase_execute(order.purchase_id) for _ in range(2)]

    assert results == ["retrying", "skipped"]
    purchase = Purchase.objects.get(pk=order.purchase_id)
    assert purchase.status == Purchase.Status.QUEUED
    assert purchase.attempts == 1
    assert purchase.next_attempt_at > timezone.now() + timedelta(seconds=25)
    assert "unavailable" in purchase.last_error
    assert_books_balance()


def test_retry_is_rung_by_the_sweeper_and_completed_by_the_worker(
    settings, make_customer, queue, run_worker, assert_books_balance
):
    settings.EXCHANGE_TRANSIENT_FAILURES = 2
    settings.PURCHASE_MAX_ATTEMPTS = 5
    settings.PURCHASE_RERING_SECONDS = 0
    order = place(make_customer(), "ETH", "0.01")
    assert work(queue, run_worker) == 1  # first attempt: unavailable

    rings = []
    for _ in range(5):
        rings.append(sweep())
        work(queue, run_worker)
        order.purchase.refresh_from_db()
        if order.purchase.status == Purchase.Status.COMPLETED:
            break

    assert rings == [1, 1]
    assert order.purchase.attempts == 3
    assert_completed_once(order.purchase)
    assert sweep() == 0  # nothing left to ring
    assert_books_balance()


def test_purchase_out_of_attempts_fails_and_refunds_every_customer(
    settings, make_customer, queue, assert_books_balance
):
    settings.EXCHANGE_TRANSIENT_FAILURES = 99
    settings.PURCHASE_MAX_ATTEMPTS = 3
    opening = Decimal("100.00")
    alice, bob = make_customer("alice"), make_customer("bob")
    place(alice, "ABAN", "1.5")  # 6.00
    tipping = place(bob, "ABAN", "1.5")  # 6.00 -> a 12.00 purchase

    results = run_until_finished(tipping.purchase)

    assert results == ["retrying", "retrying", "failed"]
    assert tipping.purchase.attempts == 3
    assert tipping.purchase.orders.count() == 2
    assert_failed_and_refunded(tipping.purchase, [alice, bob], opening)
    assert_books_balance()


def test_rejected_crypto_fails_and_refunds_after_one_attempt(
    settings, make_customer, queue, run_worker, assert_books_balance
):
    settings.EXCHANGE_REJECT_CRYPTOS = ["ETH"]
    customer = make_customer()
    order = place(customer, "ETH", "0.005")  # 16.00

    assert work(queue, run_worker) == 1

    order.purchase.refresh_from_db()
    assert order.purchase.attempts == 1
    assert_failed_and_refunded(order.purchase, [customer], Decimal("100.00"))
    assert jobs.purchase_execute(order.purchase_id) == "skipped"
    refunds = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND)
    assert refunds.count() == 1
    assert_books_balance()


def test_timeout_after_fill_is_looked_up_not_bought_again(
    settings, make_customer, queue, assert_books_balance
):
    settings.EXCHANGE_TIMEOUT_AFTER_FILL = 1
    order = place(make_customer(), "ETH", "0.01")

    results = run_until_finished(order.purchase)

    assert results == ["retrying", "completed"]
    fill = assert_completed_once(order.purchase)
    assert fill.calls == 1
    assert order.purchase.attempts == 2
    assert_books_balance()


def test_timeout_on_last_attempt_completes_when_exchange_has_the_fill(
    settings, make_customer, queue, assert_books_balance
):
    settings.EXCHANGE_TIMEOUT_AFTER_FILL = 1
    settings.PURCHASE_MAX_ATTEMPTS = 1
    customer = make_customer()
    order = place(customer, "ETH", "0.01")

    results = run_until_finished(order.purchase)

    # Bought but unanswered: the customer must not be refunded.
    assert results == ["completed"]
    assert_completed_once(order.purchase)
    assert not LedgerEntry.objects.filter(kind="refund").exists()
    assert Customer.objects.get(pk=customer.pk).balance == Decimal("68.00")
    assert_books_balance()


def test_sweeper_rings_purchase_of_dead_worker_and_worker_completes_it(
    make_customer, queue, run_worker, assert_books_balance
):
    order = place(make_customer(), "ETH", "0.01")
    # A worker took the job, claimed the purchase and died a while ago.
    queue.empty()
    now = timezone.now()
    Purchase.objects.filter(pk=order.purchase_id).update(
        status=Purchase.Status.IN_FLIGHT,
        attempts=1,
        lease_owner="dead-worker",
        lease_expires_at=now - timedelta(seconds=1),
        enqueued_at=now - timedelta(minutes=1),
    )

    assert sweep() == 1
    assert [job.args for job in queue.get_jobs()] == [[order.purchase_id]]
    assert work(queue, run_worker) == 1

    purchase = Purchase.objects.get(pk=order.purchase_id)
    fill = assert_completed_once(purchase)
    assert fill.calls == 1
    assert purchase.attempts == 2
    assert purchase.lease_owner == ""
    assert_books_balance()


def test_sweeper_leaves_purchase_with_live_lease_alone(
    make_customer, queue, run_worker, assert_books_balance
):
    order = place(make_customer(), "ETH", "0.01")
    queue.empty()
    now = timezone.now()
    Purchase.objects.filter(pk=order.purchase_id).update(
        status=Purchase.Status.IN_FLIGHT,
        attempts=1,
        lease_owner="live-worker",
        lease_expires_at=now + timedelta(minutes=1),
        enqueued_at=now - timedelta(minutes=1),
    )

    assert sweep() == 0
    assert queue.count == 0
    # Even when rung by mistake, a live worker's purchase is not taken.
    assert jobs.purchase_execute(order.purchase_id) == "skipped"
    assert not fills_of(order.purchase).exists()


def test_sweeper_rings_queued_purchase_whose_doorbell_was_lost(
    settings, make_customer, queue, run_worker, assert_books_balance
):
    order = place(make_customer(), "ETH", "0.01")
    queue.empty()  # the ring was lost with Redis
    assert sweep() == 0  # rung moments ago: not yet
    Purchase.objects.filter(pk=order.purchase_id).update(
        enqueued_at=timezone.now()
        - timedelta(seconds=settings.PURCHASE_RERING_SECONDS + 1)
    )

    assert sweep() == 1
    assert work(queue, run_worker) == 1

    assert_completed_once(order.purchase)
    assert sweep() == 0
    assert_books_balance()
