"""The bounded wait: a pool whose oldest order waited
``POOL_MAX_WAIT_SECONDS`` is bought with the house paying the rest of the
threshold, by the worker's sweeper, against the real PostgreSQL and
Redis; a house short of money leaves the pool waiting, never overdrawn.
"""

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import OperationalError, connection, transaction

from accounts.models import House, HouseHolding, HouseLedgerEntry
from core.testing.live import http, order_over_http
from core.testing.threads import run_together
from core.testing.waiting import wait_for
from ledger.movements import house_deposit
from orders import jobs, pool, strategies, sweeper
from orders.models import Crypto, Order, Pool, Purchase
from orders.services import order_place

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("queue"),
]

WAIT = 0.2


@pytest.fixture
def short_wait(settings):
    """A bounded wait short enough to pass within the test."""
    settings.POOL_MAX_WAIT_SECONDS = WAIT


def place(customer, symbol, amount):
    return order_place(
        customer_id=customer.pk, symbol=symbol, amount=Decimal(amount)
    )


def overdue():
    time.sleep(WAIT + 0.05)


def house_balance():
    return House.objects.get(pk=House.ID).balance


def test_overdue_pool_is_topped_up_by_the_house_and_bought(
    short_wait, make_customer, assert_books_balance
):
    house_deposit(amount=Decimal("50.00"))
    alice = make_customer("alice")
    order = place(alice, "ABAN", "0.75")  # $3.00 of the $10.00
    assert order.status == "pending"

    sweeper.sweep()  # not overdue yet
    assert not Purchase.objects.exists()
    overdue()
    sweeper.sweep()

    purchase = Purchase.objects.get()
    assert purchase.house_total == Decimal("7.00")
    assert purchase.house_amount == Decimal("1.75")
    assert purchase.total == Decimal("10.00")
    assert purchase.amount == Decimal("2.5")
    order.refresh_from_db()
    assert (order.status, order.purchase_id) == ("submitted", purchase.pk)
    assert order.total == Decimal("3.00")  # the customer's order unchanged
    assert house_balance() == Decimal("43.00")
    entry = HouseLedgerEntry.objects.get(kind="house_top_up")
    assert (entry.amount, entry.balance_after, entry.purchase_id) == (
        Decimal("-7.00"),
        Decimal("43.00"),
        purchase.pk,
    )
    pool_row = Pool.objects.get(crypto_id="ABAN")
    assert (pool_row.pending_total, pool_row.waiting_since) == (0, None)

    assert jobs.purchase_execute(purchase.pk) == "completed"
    order.refresh_from_db()
    assert order.status == "completed"
    holding = HouseHolding.objects.get(crypto_id="ABAN")
    assert (holding.amount, holding.spent) == (
        Decimal("1.75"),
        Decimal("7.00"),
    )
    assert_books_balance()


def test_a_sweep_begun_before_the_deadline_waits_for_the_next(
    short_wait, make_customer
):
    """The purchase's time is its transaction's: a sweep whose
    transaction began before the pool was due leaves it to the next
    sweep, so no purchase records a wait shorter than the bounded one."""
    house_deposit(amount=Decimal("50.00"))
    order = place(make_customer("alice"), "ABAN", "0.75")

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")  # the transaction begins
        overdue()
        sweeper.sweep()
    assert not Purchase.objects.exists()

    sweeper.sweep()
    purchase = Purchase.objects.get()
    order.refresh_from_db()
    assert order.purchase_id == purchase.pk
    assert purchase.created_at - order.created_at >= timedelta(seconds=WAIT)


def test_house_short_of_money_leaves_the_pool_waiting_until_a_deposit(
    short_wait, make_customer, operator_client, assert_books_balance
):
    alice = make_customer("alice")
    order = place(alice, "ABAN", "1.5")  # $6.00: the house owes $4.00
    overdue()

    sweeper.sweep()

    assert not Purchase.objects.exists()
    order.refresh_from_db()
    assert order.status == "pending"
    assert house_balance() == 0
    house = operator_client.get("/api/house/").json()
    assert (house["balance"], house["short_by"]) == ("0.00", "4.00")

    house_deposit(amount=Decimal("3.00"))
    sweeper.sweep()
    assert not Purchase.objects.exists()
    assert operator_client.get("/api/house/").json()["short_by"] == "1.00"

    response = operator_client.post(
        "/api/house/deposit/", {"amount": "2.00"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["short_by"] == "0.00"
    sweeper.sweep()

    purchase = Purchase.objects.get()
    assert purchase.house_total == Decimal("4.00")
    assert house_balance() == Decimal("1.00")
    house = operator_client.get("/api/house/").json()
    assert (house["balance"], house["short_by"], house["top_ups"]) == (
        "1.00",
        "0.00",
        1,
    )
    assert house["holdings"] == [
        {
            "crypto": "ABAN",
            "amount": "0.0000000000",
            "on_the_way": "1.0000000000",
            "spent": "0.00",
            "average_price": None,
        }
    ]
    assert_books_balance()


def test_top_up_whose_purchase_is_refused_refunds_house_and_customers(
    short_wait, settings, make_customer, assert_books_balance
):
    settings.EXCHANGE_REJECT_CRYPTOS = ["DOGE"]
    house_deposit(amount=Decimal("20.00"))
    alice = make_customer("alice", Decimal("10.00"))
    order = place(alice, "DOGE", "10")  # $1.50 at $0.15
    assert alice.__class__.objects.get(pk=alice.pk).balance == Decimal("8.50")
    overdue()
    sweeper.sweep()
    purchase = Purchase.objects.get()
    assert house_balance() == Decimal("20.00") - purchase.house_total

    assert jobs.purchase_execute(purchase.pk) == "failed"

    order.refresh_from_db()
    assert order.status == "failed"
    assert house_balance() == Decimal("20.00")
    refund = HouseLedgerEntry.objects.get(kind="refund")
    assert (refund.amount, refund.purchase_id) == (
        purchase.house_total,
        purchase.pk,
    )
    assert alice.__class__.objects.get(pk=alice.pk).balance == Decimal("10")
    assert not HouseHolding.objects.exists()
    assert_books_balance()


def test_bounded_wait_off_leaves_the_pool_waiting(
    settings, make_customer, client_for, assert_books_balance
):
    settings.POOL_MAX_WAIT_SECONDS = None
    house_deposit(amount=Decimal("50.00"))
    alice = make_customer("alice")
    order = place(alice, "ABAN", "0.5")
    time.sleep(0.1)

    sweeper.sweep()

    assert not Purchase.objects.exists()
    body = client_for(alice).get(f"/api/order/{order.pk}/").json()
    assert body["status"] == "pending"
    assert body["pool"]["house_top_up_at"] is None
    assert_books_balance()


def test_a_pool_full_at_the_deadline_is_bought_without_the_house(
    short_wait, monkeypatch, make_customer, assert_books_balance
):
    """A pool that reached the threshold but whose flush failed (its web
    process lost the database) needs no house money."""
    house_deposit(amount=Decimal("50.00"))
    alice = make_customer("alice")
    place(alice, "ABAN", "1.5")

    def lost(**kwargs):
        raise OperationalError("connection lost")

    monkeypatch.setattr(strategies.pool, "pool_flush_if_full", lost)
    place(alice, "ABAN", "1")  # $10.00 in the pool, not flushed
    monkeypatch.undo()
    assert Pool.objects.get(crypto_id="ABAN").pending_total == 10
    overdue()

    outcome = pool.pool_flush_overdue(crypto_id="ABAN")

    purchase = Purchase.objects.get()
    assert outcome.purchase_id == purchase.pk
    assert (purchase.house_total, purchase.total) == (0, Decimal("10.00"))
    assert house_balance() == Decimal("50.00")
    assert_books_balance()


def test_sweepers_of_several_workers_top_up_a_pool_once(
    short_wait, make_customer, assert_books_balance
):
    house_deposit(amount=Decimal("100.00"))
    customers = [make_customer(f"c{i}") for i in range(3)]
    for customer in customers:
        place(customer, "ABAN", "0.5")  # 3 x $2.00
    overdue()

    results = run_together(
        6, lambda _: pool.pool_flush_overdue(crypto_id="ABAN")
    )

    flushed = [r for r in results if r is not None]
    assert len(flushed) == 1, results
    assert not [r for r in results if isinstance(r, Exception)]
    purchase = Purchase.objects.get()
    assert purchase.house_total == Decimal("4.00")
    assert HouseLedgerEntry.objects.filter(kind="house_top_up").count() == 1
    assert set(purchase.orders.values_list("status", flat=True)) == {
        "submitted"
    }
    assert_books_balance()


@pytest.mark.parametrize(
    ("pending", "price"),
    [
        ("6.00", "4.00000000"),  # ABAN: exact
        ("6.00", "65000.00000000"),  # BTC: units rounded up
        ("0.01", "0.15000000"),  # DOGE: a cent waiting
        ("9.99", "3200.12345678"),
        ("3.33", "0.00000001"),  # the cheapest possible price
    ],
)
def test_house_share_brings_the_purchase_to_the_threshold(
    settings, pending, price
):
    unit = Decimal("1E-10")
    pending, price = Decimal(pending), Decimal(price)

    share = pool.house_share(pending_worth=pending, price=price)

    assert share.amount == share.amount.quantize(unit)
    assert share.total == share.total.quantize(Decimal("0.01"))
    # Worth what the pool lacks, by less than one unit of the crypto
    # more; the house pays its units' price rounded up by under a cent.
    missing = settings.PURCHASE_THRESHOLD - pending
    assert share.amount * price >= missing
    assert (share.amount - unit) * price < missing
    assert 0 <= share.total - share.amount * price < Decimal("0.01")


def test_pending_order_shows_its_pool_and_when_the_house_completes_it(
    make_customer, client_for, settings
):
    settings.POOL_MAX_WAIT_SECONDS = 60
    alice, bob = make_customer("alice"), make_customer("bob")
    first = place(alice, "ABAN", "0.5")  # $2.00
    second = place(bob, "ABAN", "1")  # $4.00

    body = client_for(bob).get(f"/api/order/{second.pk}/").json()

    since = Pool.objects.get(crypto_id="ABAN").waiting_since
    assert since == Order.objects.get(pk=first.pk).created_at
    due = since + timedelta(seconds=60)
    assert body["pool"] == {
        "pending_total": "6.00",
        "threshold": "10.00",
        "waiting_since": since.isoformat().replace("+00:00", "Z"),
        "house_top_up_at": due.isoformat().replace("+00:00", "Z"),
    }
    listed = client_for(bob).get("/api/order/").json()["results"]
    assert listed[0]["pool"] == body["pool"]

    page = client_for(bob).get(
        f"/api/order/{second.pk}/", HTTP_ACCEPT="text/html"
    )
    clock = due.strftime("%H:%M:%S")
    assert (
        f"$6.00 of $10.00 in the ABAN pool; the house completes it at "
        f"{clock} UTC"
    ) in page.content.decode()


def test_orders_out_of_the_pool_carry_no_progress(make_customer, client_for):
    alice = make_customer("alice")
    large = place(alice, "ETH", "0.01")

    body = client_for(alice).get(f"/api/order/{large.pk}/").json()

    assert (body["status"], body["pool"]) == ("submitted", None)


def test_small_order_on_an_idle_crypto_completes_about_a_wait_later(
    live, make_customer, operator, assert_books_balance
):
    """End to end, as processes: the production web server and a worker
    whose sweeper runs the bounded wait; a $3 order on an idle crypto
    completes with the house's share, and both holdings show it."""
    redis = live.redis()
    env = live.env(redis, POOL_MAX_WAIT_SECONDS="2")
    web = live.web(env)
    live.worker(env)
    token = operator.api_token
    status, body, _ = http(
        "POST",
        f"{web.url}/api/house/deposit/",
        token=token,
        body={"amount": "25.00"},
    )
    assert status == 200, body
    alice = make_customer("alice")

    order = order_over_http(web, alice, "ABAN", "0.75")

    assert order["status"] == "pending"
    assert order["pool"]["pending_total"] == "3.00"
    assert order["pool"]["waiting_since"] == order["created_at"]
    wait_for(
        lambda: Order.objects.get(pk=order["id"]).status == "completed",
        timeout=30,
        what="the order to complete with the house's share",
    )
    purchase = Purchase.objects.get()
    assert (purchase.house_total, purchase.total) == (
        Decimal("7.00"),
        Decimal("10.00"),
    )
    waited = purchase.created_at - Order.objects.get(pk=order["id"]).created_at
    assert waited >= timedelta(seconds=2)
    status, holdings, _ = http(
        "GET",
        f"{web.url}/api/customer/{alice.pk}/holdings/",
        token=alice.api_key,
    )
    assert status == 200, holdings
    assert holdings == [
        {
            "crypto": "ABAN",
            "amount": "0.7500000000",
            "on_the_way": "0.0000000000",
            "spent": "3.00",
            "average_price": "4.00000000",
        }
    ]
    status, house, _ = http("GET", f"{web.url}/api/house/", token=token)
    assert (house["balance"], house["top_ups"]) == ("18.00", 1)
    assert house["holdings"][0]["amount"] == "1.7500000000"
    assert Crypto.objects.get(pk="ABAN").price == Decimal("4")
    assert_books_balance()
