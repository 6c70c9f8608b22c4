"""``order_place`` and the pool: what a customer is debited, what the
ledger says, when small orders become a purchase, and when the worker
is rung."""

from decimal import Decimal

import pytest
from django.db import transaction

from accounts.models import LedgerEntry
from core.errors import InsufficientFunds, InvalidInput, UnknownCrypto
from orders.models import Order, Pool, Purchase
from orders.services import order_place

SEEDED_PRICES = {
    "ABAN": Decimal("4.00"),
    "BTC": Decimal("65000"),
    "ETH": Decimal("3200"),
    "SOL": Decimal("150"),
    "DOGE": Decimal("0.15"),
}


def place(customer, symbol, amount):
    return order_place(
        customer_id=customer.pk, symbol=symbol, amount=Decimal(amount)
    )


def pool_total(symbol):
    return Pool.objects.get(crypto_id=symbol).pending_total


def order_entries(customer):
    return list(
        LedgerEntry.objects.filter(
            customer=customer, kind=LedgerEntry.Kind.ORDER
        )
    )


@pytest.fixture
def assert_nothing_written(balance_of):
    def check(customer, balance, pools):
        assert not Order.objects.exists()
        assert not Purchase.objects.exists()
        assert order_entries(customer) == []
        assert balance_of(customer) == balance
        assert pools_now() == pools

    return check


def pools_now():
    return {pool.crypto_id: pool.pending_total for pool in Pool.objects.all()}


# --- order_place: the debit and its ledger entry ---------------------------


@pytest.mark.parametrize(
    ("symbol", "amount", "total"),
    [
        ("ABAN", "1.0000001", "4.01"),  # 4.0000004 rounds up, not down
        ("ETH", "0.0000032", "0.02"),  # 0.01024
        ("DOGE", "0.0666666667", "0.02"),  # 0.010000000005
        ("BTC", "0.00001", "0.65"),  # exact: no rounding at all
    ],
)
def test_order_debits_total_rounded_up_to_the_cent(
    make_customer, symbol, amount, total, balance_of
):
    customer = make_customer(balance=Decimal("100.00"))

    order = place(customer, symbol, amount)

    assert order.total == Decimal(total)
    assert order.price == SEEDED_PRICES[symbol]
    assert order.amount == Decimal(amount)
    assert balance_of(customer) == Decimal("100.00") - Decimal(total)


def test_order_writes_exactly_one_ledger_entry_of_minus_total(
    make_customer,
    balance_of,
):
    customer = make_customer(balance=Decimal("50.00"))

    order = place(customer, "ABAN", "1.0000001")

    entries = order_entries(customer)
    assert len(entries) == 1
    entry = entries[0]
    assert entry.order_id == order.pk
    assert entry.amount == Decimal("-4.01")
    assert entry.balance_after == Decimal("45.99")
    assert balance_of(customer) == Decimal("45.99")


def test_order_ledger_entries_follow_the_running_balance(make_customer):
    customer = make_customer(balance=Decimal("20.00"))

    place(customer, "ABAN", "1")
    place(customer, "SOL", "0.02")

    entries = LedgerEntry.objects.filter(customer=customer).order_by("id")
    assert [(e.kind, e.amount, e.balance_after) for e in entries] == [
        ("deposit", Decimal("20.00"), Decimal("20.00")),
        ("order", Decimal("-4.00"), Decimal("16.00")),
        ("order", Decimal("-3.00"), Decimal("13.00")),
    ]


@pytest.mark.parametrize(
    ("symbol", "amount"),
    [
        ("DOGE", "0.0333333333"),  # 0.004999999995
        ("ABAN", "0.0012345"),  # 0.004938
        ("SOL", "0.0000000001"),  # 0.000000015
    ],
)
def test_order_whose_total_is_below_a_cent_is_refused(
    make_customer, symbol, amount, assert_nothing_written
):
    customer = make_customer(balance=Decimal("10.00"))
    pools = pools_now()

    with pytest.raises(InvalidInput):
        place(customer, symbol, amount)

    assert_nothing_written(customer, Decimal("10.00"), pools)


def test_order_of_exactly_one_cent_is_accepted(make_customer, balance_of):
    customer = make_customer(balance=Decimal("10.00"))

    order = place(customer, "ABAN", "0.0025")  # exactly 0.01

    assert order.total == Decimal("0.01")
    assert balance_of(customer) == Decimal("9.99")


def test_order_for_exactly_the_whole_balance_succeeds(
    make_customer, balance_of
):
    customer = make_customer(balance=Decimal("8.00"))

    order = place(customer, "ABAN", "2")

    assert order.total == Decimal("8.00")
    assert balance_of(customer) == Decimal("0.00")


def test_insufficient_funds_raises_and_writes_nothing(
    make_customer, assert_nothing_written
):
    customer = make_customer(balance=Decimal("7.99"))
    pools = pools_now()

    with pytest.raises(InsufficientFunds):
        place(customer, "ABAN", "2")  # 8.00

    assert_nothing_written(customer, Decimal("7.99"), pools)


def test_insufficient_funds_for_pool_tipping_order_leaves_pool_alone(
    make_customer,
    balance_of,
):
    rich, poor = make_customer("rich"), make_customer("poor", Decimal("1"))
    waiting = place(rich, "ABAN", "2")  # 8.00 in the pool

    with pytest.raises(InsufficientFunds):
        place(poor, "ABAN", "1")  # 4.00 would tip it

    assert pool_total("ABAN") == Decimal("8.00")
    assert not Purchase.objects.exists()
    assert list(Order.objects.all()) == [waiting]
    assert order_entries(poor) == []
    assert balance_of(poor) == Decimal("1.00")


def test_unknown_crypto_raises_and_writes_nothing(
    make_customer, assert_nothing_written
):
    customer = make_customer(balance=Decimal("100.00"))
    pools = pools_now()

    with pytest.raises(UnknownCrypto):
        place(customer, "NOPE", "1")

    assert_nothing_written(customer, Decimal("100.00"), pools)


def test_crypto_symbol_is_matched_case_insensitively(make_customer):
    customer = make_customer()

    order = place(customer, " aban ", "1")

    assert order.crypto_id == "ABAN"


# --- the pool ---------------------------------------------------------------


def test_orders_below_threshold_stay_pending_without_purchase(
    make_customer,
):
    customer = make_customer()

    orders = [place(customer, "ABAN", "0.5") for _ in range(4)]  # 8.00

    assert all(o.status == Order.Status.PENDING for o in orders)
    assert all(o.purchase_id is None for o in orders)
    assert not Purchase.objects.exists()
    assert pool_total("ABAN") == Decimal("8.00")


def test_order_that_tips_pool_makes_one_purchase_of_its_crypto_pending(
    make_customer, assert_books_balance
):
    alice, bob = make_customer("alice"), make_customer("bob")
    sol = place(alice, "SOL", "0.01")  # 1.50, another crypto's pool
    waiting = [place(alice, "ABAN", "0.5"), place(bob, "ABAN", "1.25")]

    tipping = place(bob, "ABAN", "0.75")  # 2 + 5 + 3 = 10.00

    assert Purchase.objects.count() == 1
    purchase = Purchase.objects.get()
    assert purchase.crypto_id == "ABAN"
    assert tipping.purchase_id == purchase.pk
    assert set(purchase.orders.values_list("id", flat=True)) == {
        waiting[0].pk,
        waiting[1].pk,
        tipping.pk,
    }
    assert purchase.total == Decimal("10.00")
    assert purchase.amount == Decimal("2.5")
    assert set(purchase.orders.values_list("status", flat=True)) == {
        Order.Status.SUBMITTED
    }
    assert pool_total("ABAN") == Decimal("0")
    sol.refresh_from_db()
    assert sol.status == Order.Status.PENDING
    assert sol.purchase_id is None
    assert pool_total("SOL") == Decimal("1.50")
    assert_books_balance()


def test_pool_overshooting_threshold_buys_the_whole_overshoot(
    make_customer, assert_books_balance
):
    customer = make_customer()
    place(customer, "ABAN", "2")  # 8.00

    tipping = place(customer, "ABAN", "0.75")  # 3.00 -> 11.00

    assert tipping.purchase.total == Decimal("11.00")
    assert tipping.purchase.amount == Decimal("2.75")
    assert tipping.purchase.orders.count() == 2
    assert pool_total("ABAN") == Decimal("0")
    assert_books_balance()


def test_pool_fills_again_after_a_flush(make_customer, assert_books_balance):
    customer = make_customer()

    orders = [place(customer, "ABAN", "1.25") for _ in range(5)]  # 5.00 each

    purchases = list(Purchase.objects.order_by("id"))
    assert len(purchases) == 2
    assert [set(p.orders.all()) for p in purchases] == [
        {orders[0], orders[1]},
        {orders[2], orders[3]},
    ]
    orders[4].refresh_from_db()
    assert orders[4].status == Order.Status.PENDING
    assert pool_total("ABAN") == Decimal("5.00")
    assert_books_balance()


def test_pool_threshold_follows_purchase_threshold_setting(
    settings, make_customer
):
    settings.PURCHASE_THRESHOLD = Decimal("20")
    customer = make_customer()

    first = place(customer, "ABAN", "2.5")  # 10.00: small now
    second = place(customer, "ABAN", "2.5")  # 20.00: tips the pool

    first.refresh_from_db()
    assert first.purchase_id == second.purchase_id is not None
    assert second.purchase.total == Decimal("20.00")


def test_large_order_gets_its_own_purchase_and_leaves_pool_alone(
    make_customer, assert_books_balance
):
    customer = make_customer()
    waiting = place(customer, "ABAN", "1")  # 4.00 pending

    order = place(customer, "ABAN", "2.5")  # 10.00: at the threshold

    assert order.status == Order.Status.SUBMITTED
    assert list(order.purchase.orders.all()) == [order]
    assert order.purchase.total == Decimal("10.00")
    assert order.purchase.amount == Decimal("2.5")
    waiting.refresh_from_db()
    assert waiting.status == Order.Status.PENDING
    assert pool_total("ABAN") == Decimal("4.00")
    assert_books_balance()


# --- the doorbell, after commit --------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_large_order_is_rung_once_after_commit(make_customer, queue):
    customer = make_customer()

    order = place(customer, "ETH", "0.01")  # 32.00

    jobs = queue.get_jobs()
    assert len(jobs) == 1
    assert jobs[0].func_name == "orders.jobs.purchase_execute"
    assert jobs[0].args == [order.purchase_id]


@pytest.mark.django_db(transaction=True)
def test_pool_flush_is_rung_once_after_commit(make_customer, queue):
    customer = make_customer()
    place(customer, "ABAN", "2")

    assert queue.count == 0
    tipping = place(customer, "ABAN", "0.5")

    assert [job.args for job in queue.get_jobs()] == [[tipping.purchase_id]]


@pytest.mark.django_db(transaction=True)
def test_no_ring_when_the_order_transaction_rolls_back(
    make_customer, queue, balance_of
):
    customer = make_customer(balance=Decimal("100.00"))

    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        place(customer, "ETH", "0.01")
        raise Abort

    assert queue.count == 0
    assert not Purchase.objects.exists()
    assert not Order.objects.exists()
    assert balance_of(customer) == Decimal("100.00")
