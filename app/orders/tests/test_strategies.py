"""The Strategy/Factory of orders: which strategy a total gets, and what
each strategy writes (a pending order in the pool, or a purchase)."""

from decimal import Decimal

import pytest

from orders.models import Crypto, Order, Pool, Purchase
from orders.strategies import (
    LargeOrderStrategy,
    OrderStrategyFactory,
    SmallOrderStrategy,
)


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
