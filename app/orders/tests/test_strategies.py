"""The Strategy/Factory of orders: which strategy a total gets, and what
each strategy writes (a pending order in the pool, or a purchase)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Customer
from orders import pool
from orders.models import Crypto, Order, Pool, Purchase
from orders.strategies import (
    LargeOrderStrategy,
    OrderStrategyFactory,
    SmallOrderStrategy,
)
from orders.sweeper import sweep


@pytest.fixture
def aban():
    return Crypto.objects.get(pk="ABAN")


def pool_total(symbol):
    return Pool.objects.get(crypto_id=symbol).pending_total


def execute(strategy, customer, crypto, amount):
    return strategy.execute(
        customer_id=customer.pk,
        crypto=crypto,
        amount=Decimal(amount),
        total=crypto.price * Decimal(amount),
    )


@pytest.mark.parametrize(
    ("total", "expected"),
    [
        ("9.99", SmallOrderStrategy),
        ("10.00", LargeOrderStrategy),
        ("10.01", LargeOrderStrategy),
    ],
)
def test_factory_picks_strategy_by_total_against_threshold(total, expected):
    strategy = OrderStrategyFactory.create_strategy(Decimal(total))

    assert type(strategy) is expected


@pytest.mark.parametrize(
    ("threshold", "total", "expected"),
    [
        ("50", "49.99", SmallOrderStrategy),
        ("50", "50.00", LargeOrderStrategy),
        ("5", "4.99", SmallOrderStrategy),
        ("5", "5.00", LargeOrderStrategy),
    ],
)
def test_factory_threshold_follows_purchase_threshold_setting(
    settings, threshold, total, expected
):
    settings.PURCHASE_THRESHOLD = Decimal(threshold)

    strategy = OrderStrategyFactory.create_strategy(Decimal(total))

    assert type(strategy) is expected


def test_small_order_stays_pending_in_pool(make_customer, aban):
    customer = make_customer()

    order = execute(SmallOrderStrategy(), customer, aban, "1.5")

    order.refresh_from_db()
    assert order.status == Order.Status.PENDING
    assert order.purchase is None
    assert order.total == Decimal("6.00")
    assert order.price == aban.price
    assert pool_total("ABAN") == Decimal("6.00")
    assert not Purchase.objects.exists()


def test_small_order_that_tips_pool_gets_purchase_of_whole_pool(
    make_customer, aban
):
    alice, bob = make_customer("alice"), make_customer("bob")
    first = execute(SmallOrderStrategy(), alice, aban, "1.5")

    tipping = execute(SmallOrderStrategy(), bob, aban, "1")

    assert tipping.status == Order.Status.SUBMITTED
    purchase = tipping.purchase
    assert purchase is not None
    assert set(purchase.orders.values_list("id", flat=True)) == {
        first.pk,
        tipping.pk,
    }
    assert purchase.total == Decimal("10.00")
    assert purchase.amount == Decimal("2.5")
    assert purchase.status == Purchase.Status.QUEUED
    first.refresh_from_db()
    tipping.refresh_from_db()
    assert first.status == tipping.status == Order.Status.SUBMITTED
    assert first.purchase_id == tipping.purchase_id == purchase.pk
    assert pool_total("ABAN") == Decimal("0")
    assert Purchase.objects.count() == 1


def test_large_order_gets_purchase_of_exactly_itself(make_customer, aban):
    customer = make_customer()
    waiting = execute(SmallOrderStrategy(), customer, aban, "1")

    order = execute(LargeOrderStrategy(), customer, aban, "2.5")

    order.refresh_from_db()
    assert order.status == Order.Status.SUBMITTED
    purchase = order.purchase
    assert list(purchase.orders.all()) == [order]
    assert purchase.crypto_id == "ABAN"
    assert purchase.total == order.total == Decimal("10.00")
    assert purchase.amount == order.amount == Decimal("2.5")
    assert purchase.status == Purchase.Status.QUEUED
    # The pool's waiting order is not swept into the large purchase.
    waiting.refresh_from_db()
    assert waiting.status == Order.Status.PENDING
    assert pool_total("ABAN") == Decimal("4.00")


def test_small_order_of_a_crypto_without_a_pool_row_creates_it(
    make_customer,
):
    crypto = Crypto.objects.create(
        symbol="NEW", name="New", price=Decimal("2")
    )

    order = execute(SmallOrderStrategy(), make_customer(), crypto, "1.5")

    assert order.status == Order.Status.PENDING
    assert pool_total("NEW") == Decimal("3.00")


def test_order_flushed_by_another_orders_flush_says_so(
    make_customer, aban, monkeypatch
):
    """Two orders tip the pool at once: the other's flush takes this
    order before this one's flush runs, which then finds the pool empty.
    The answer tells where the order went."""
    real_flush = pool.pool_flush_if_full
    taken = []

    def another_flush_first(*, crypto_id):
        taken.append(real_flush(crypto_id=crypto_id))
        return real_flush(crypto_id=crypto_id)

    monkeypatch.setattr(pool, "pool_flush_if_full", another_flush_first)
    alice, bob = make_customer("alice"), make_customer("bob")
    execute(SmallOrderStrategy(), alice, aban, "1.5")

    tipping = execute(SmallOrderStrategy(), bob, aban, "1")

    [purchase_id] = taken
    assert purchase_id is not None
    assert tipping.status == Order.Status.SUBMITTED
    assert tipping.purchase_id == purchase_id
    assert pool_total("ABAN") == Decimal("0")


@pytest.mark.django_db(transaction=True)
def test_pool_left_full_by_a_dead_process_is_flushed_by_the_sweeper(
    make_customer, aban, queue, monkeypatch, assert_books_balance
):
    """The tipping order commits, then its process dies before the
    flush: the orders wait in a full pool until the sweeper flushes it."""

    class ProcessDied(BaseException):
        pass

    def die(**kwargs):
        raise ProcessDied

    customer = make_customer()
    execute(SmallOrderStrategy(), customer, aban, "2")  # 8.00
    with monkeypatch.context() as patch:
        patch.setattr(pool, "pool_flush_if_full", die)
        with pytest.raises(ProcessDied):
            execute(SmallOrderStrategy(), customer, aban, "0.5")  # 2.00
    assert pool_total("ABAN") == Decimal("10.00")
    assert Order.objects.filter(status=Order.Status.PENDING).count() == 2
    assert queue.count == 0

    sweep()

    purchase = Purchase.objects.get()
    assert purchase.total == Decimal("10.00")
    assert set(purchase.orders.values_list("status", flat=True)) == {
        Order.Status.SUBMITTED
    }
    assert pool_total("ABAN") == Decimal("0")
    assert [job.args for job in queue.get_jobs()] == [[purchase.pk]]
    assert_books_balance()


@pytest.mark.django_db(transaction=True)
def test_failed_flush_leaves_the_order_placed_and_the_sweeper_ringing(
    make_customer, aban, queue
):
    """The tipping order is committed (and debited) before its pool's
    flush runs: a flush that fails must not turn it into an error, which
    would invite the client to order again; nor may it stop the sweeper
    from ringing purchases."""
    customer = make_customer(balance=Decimal("100.00"))
    execute(SmallOrderStrategy(), customer, aban, "2")  # 8.00
    # Books out of step: the pool counts less than its pending orders,
    # so emptying the pool would take it below zero (a CHECK refuses).
    Pool.objects.filter(crypto_id="ABAN").update(pending_total="6.00")

    tipping = execute(SmallOrderStrategy(), customer, aban, "1")  # 4.00

    assert tipping.status == Order.Status.PENDING
    assert Order.objects.get(pk=tipping.pk).status == Order.Status.PENDING
    assert Customer.objects.get(pk=customer.pk).balance == Decimal("88.00")
    assert not Purchase.objects.exists()
    assert pool_total("ABAN") == Decimal("10.00")

    stale = timezone.now() - timedelta(hours=1)
    large = execute(LargeOrderStrategy(), customer, aban, "5")
    Purchase.objects.filter(pk=large.purchase_id).update(enqueued_at=stale)
    queue.empty()

    assert sweep() == 1
    assert [job.args for job in queue.get_jobs()] == [[large.purchase_id]]
    assert pool_total("ABAN") == Decimal("10.00")  # still out of step
