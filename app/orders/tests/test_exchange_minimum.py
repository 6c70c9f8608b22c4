"""The exchange's minimum is on what it sells: every purchase is worth
at least the threshold (each order at its own price, the house's share
at today's), whatever each order's total was rounded up to. An order's
total is ``price × amount`` rounded up to the cent, so a pool's totals
can reach $10.00 while its crypto is worth less (found by a hostile
probe: 500 orders charged $0.02 for $0.01 of ABAN each made a "$10"
purchase worth $5)."""

from decimal import Decimal

import pytest

from accounts.models import HouseLedgerEntry
from ledger import movements
from ledger.audit import audit
from ledger.movements import house_deposit
from orders import sweeper
from orders.models import Crypto, Order, Pool, Purchase
from orders.services import order_place

pytestmark = pytest.mark.django_db(transaction=True)

# $0.99000004 of ABAN at $4, charged $1.00.
ROUNDED_UP = "0.24750001"


def place(customer, amount, symbol="ABAN"):
    return order_place(
        customer_id=customer.pk, symbol=symbol, amount=Decimal(amount)
    )


def worth(purchase):
    price = Crypto.objects.get(pk=purchase.crypto_id).price
    return purchase.amount * price


def test_a_pool_whose_totals_reach_the_threshold_waits_until_it_is_worth_it(
    make_customer, assert_books_balance
):
    alice = make_customer("alice")
    orders = [place(alice, ROUNDED_UP) for _ in range(10)]

    # $10.00 charged, $9.90 of ABAN: not a purchase the exchange takes.
    assert [order.total for order in orders] == [Decimal("1.00")] * 10
    assert Pool.objects.get(crypto_id="ABAN").pending_total == 10
    assert not Purchase.objects.exists()
    sweeper.sweep()  # nor does the sweeper's catch-up flush it
    assert not Purchase.objects.exists()

    last = place(alice, ROUNDED_UP)

    purchase = Purchase.objects.get()
    assert last.purchase_id == purchase.pk
    assert purchase.total == Decimal("11.00")
    assert worth(purchase) >= 10
    assert Order.objects.filter(purchase=purchase).count() == 11
    assert Pool.objects.get(crypto_id="ABAN").pending_total == 0
    assert_books_balance()


def test_an_order_charged_ten_dollars_for_less_waits_in_the_pool(
    make_customer, assert_books_balance
):
    """2.49999999 ABAN is $9.99999996 at $4: charged $10.00, but under
    the exchange's minimum, so not a purchase of its own."""
    order = place(make_customer("alice"), "2.49999999")

    assert order.total == Decimal("10.00")
    assert order.status == "pending"
    assert not Purchase.objects.exists()
    assert_books_balance()


def test_an_order_worth_exactly_the_threshold_is_bought_on_its_own(
    make_customer,
):
    order = place(make_customer("alice"), "2.5")

    assert order.status == "submitted"
    assert worth(Purchase.objects.get(pk=order.purchase_id)) == 10


def test_the_house_tops_up_what_the_pool_is_worth_not_its_totals(
    settings, make_customer, assert_books_balance
):
    settings.POOL_MAX_WAIT_SECONDS = 0
    house_deposit(amount=Decimal("5.00"))
    alice = make_customer("alice")
    for _ in range(10):
        place(alice, ROUNDED_UP)  # $10.00 of totals, $9.9000004 of ABAN

    sweeper.sweep()

    purchase = Purchase.objects.get()
    assert worth(purchase) >= 10
    assert purchase.house_amount == Decimal("0.0249999000")
    assert purchase.house_total == Decimal("0.10")
    assert purchase.total == Decimal("10.10")
    top_up = HouseLedgerEntry.objects.get(kind="house_top_up")
    assert top_up.amount == Decimal("-0.10")
    assert_books_balance()


def test_the_audit_sees_a_pool_left_full_and_the_sweeper_flushes_it(
    make_customer, assert_books_balance
):
    """As when a web process dies between an order and its flush: the
    order's own statement, without the flush after it."""
    alice = make_customer("alice")
    for _ in range(10):
        place(alice, ROUNDED_UP)  # full by its totals, not by its worth
    assert "pool_below_threshold" not in _failed(audit())
    movements.order_write_small(
        customer_id=alice.pk,
        crypto=Crypto.objects.get(pk="ABAN"),
        amount=Decimal(ROUNDED_UP),
        total=Decimal("1.00"),
    )

    assert "pool_below_threshold" in _failed(audit())
    sweeper.sweep()
    assert worth(Purchase.objects.get()) >= 10
    assert "pool_below_threshold" not in _failed(audit())
    assert_books_balance()


def _failed(findings):
    return {finding.check.name for finding in findings}


def test_a_pool_worth_more_than_it_was_charged_is_topped_up_to_its_totals(
    settings, make_customer, assert_books_balance
):
    """The price rose after the order: the pool is worth what its order
    was worth at its own price ($6), and the house buys the $4 it lacks
    at today's price (0.5 ABAN at $8)."""
    settings.POOL_MAX_WAIT_SECONDS = 0
    house_deposit(amount=Decimal("5.00"))
    place(make_customer("alice"), "1.5")  # $6.00 at $4
    Crypto.objects.filter(pk="ABAN").update(price=Decimal("8"))

    sweeper.sweep()

    purchase = Purchase.objects.get()
    assert (purchase.house_amount, purchase.house_total) == (
        Decimal("0.5000000000"),
        Decimal("4.00"),
    )
    assert purchase.total == Decimal("10.00")
    assert_books_balance()
