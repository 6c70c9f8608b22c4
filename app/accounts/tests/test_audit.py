"""``manage.py audit_ledger``: quiet on books kept by the services, loud
(naming the invariant) on books edited behind the ledger's back."""

import os
import subprocess
import sys
import time
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from accounts.models import HouseHolding
from ledger.movements import customer_deposit, house_deposit
from orders import jobs, sweeper
from orders.models import Order, Purchase
from orders.services import order_cancel, order_place

pytestmark = pytest.mark.django_db(transaction=True)

APP_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def ledger_of_every_kind(settings, make_customer, queue):
    """A ledger with every kind of entry, all written by the services: a
    completed purchase, a pending pooled order, a deposit, and a failed
    purchase with its refund."""
    settings.EXCHANGE_REJECT_CRYPTOS = ["SOL"]
    alice = make_customer("alice", Decimal("100.00"))
    bob = make_customer("bob", Decimal("50.00"))
    carol = make_customer("carol", Decimal("100.00"))
    bought = order_place(
        customer_id=alice.pk, symbol="ETH", amount=Decimal("0.01")
    )
    assert jobs.purchase_execute(bought.purchase_id) == "completed"
    pending = order_place(
        customer_id=bob.pk, symbol="ABAN", amount=Decimal("1.5")
    )
    customer_deposit(customer_id=bob.pk, amount=Decimal("25.00"))
    refused = order_place(
        customer_id=carol.pk, symbol="SOL", amount=Decimal("0.1")
    )
    assert jobs.purchase_execute(refused.purchase_id) == "failed"
    return {
        "alice": alice,
        "bob": bob,
        "carol": carol,
        "bought": bought,
        "pending": pending,
        "refused": refused,
    }


def audit_ledger():
    """Run the command; the names of the invariants it reports broken."""
    out, err = StringIO(), StringIO()
    try:
        call_command("audit_ledger", stdout=out, stderr=err)
    except CommandError as exc:
        assert "invariant(s) broken" in str(exc)
        return {
            line.split()[1].rstrip(":")
            for line in err.getvalue().splitlines()
            if line.startswith("BROKEN ")
        }
    assert "OK" in out.getvalue()
    assert err.getvalue() == ""
    return set()


def raw(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        assert cursor.rowcount == 1


def test_audit_passes_on_books_kept_by_the_services(ledger_of_every_kind):
    assert Order.objects.filter(status="completed").count() == 1
    assert Order.objects.filter(status="pending").count() == 1
    assert Order.objects.filter(status="failed").count() == 1

    assert audit_ledger() == set()


def test_audit_passes_on_empty_books(db):
    assert audit_ledger() == set()


def test_audit_names_balance_edited_behind_the_ledger(ledger_of_every_kind):
    raw(
        "UPDATE accounts_customer SET balance = balance + 1 WHERE id = %s",
        [ledger_of_every_kind["alice"].pk],
    )

    assert audit_ledger() == {
        "balance_equals_ledger",
        "latest_entry_matches_balance",
        "deposits_equal_balance_plus_orders",
    }


def test_audit_names_ledger_entry_amount_edited(ledger_of_every_kind):
    raw(
        "UPDATE accounts_ledgerentry SET amount = amount + 1 "
        "WHERE order_id = %s AND kind = 'order'",
        [ledger_of_every_kind["bought"].pk],
    )

    assert audit_ledger() == {"balance_equals_ledger", "order_debited_once"}


def test_audit_names_purchase_total_edited(ledger_of_every_kind):
    raw(
        "UPDATE orders_purchase SET total = total - 1 WHERE id = %s",
        [ledger_of_every_kind["bought"].purchase_id],
    )

    assert audit_ledger() == {"purchase_sums_its_orders"}


def test_audit_names_refund_lost_from_failed_order(ledger_of_every_kind):
    raw(
        "DELETE FROM accounts_ledgerentry "
        "WHERE order_id = %s AND kind = 'refund'",
        [ledger_of_every_kind["refused"].pk],
    )

    broken = audit_ledger()

    assert "refund_only_for_failed_or_cancelled" in broken
    assert "balance_equals_ledger" in broken


def test_audit_names_pool_out_of_step_with_pending_orders(
    ledger_of_every_kind,
):
    raw(
        "UPDATE orders_pool SET pending_total = pending_total + 1 "
        "WHERE crypto_id = %s",
        [ledger_of_every_kind["pending"].crypto_id],
    )

    assert audit_ledger() == {"pool_matches_pending"}


def test_audit_names_completed_purchase_never_filled(ledger_of_every_kind):
    purchase = Purchase.objects.get(
        pk=ledger_of_every_kind["bought"].purchase_id
    )
    raw(
        "DELETE FROM exchange_simulatedexchangeorder "
        "WHERE client_order_id = %s",
        [purchase.client_order_id],
    )

    assert audit_ledger() == {"completed_filled_once"}


def test_audit_command_exits_non_zero_on_broken_books(ledger_of_every_kind):
    db = connection.settings_dict
    url = (
        f"postgres://{db['USER']}@{db['HOST'] or 'localhost'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}"
    )
    if db.get("PASSWORD"):
        pytest.skip("the URL here carries no password")

    def run():
        return subprocess.run(
            [sys.executable, "manage.py", "audit_ledger"],
            cwd=APP_DIR,
            env={**os.environ, "DATABASE_URL": url},
            capture_output=True,
            text=True,
            timeout=60,
        )

    clean = run()
    raw(
        "UPDATE accounts_customer SET balance = balance + 1 WHERE id = %s",
        [ledger_of_every_kind["bob"].pk],
    )
    broken = run()

    assert clean.returncode == 0, clean.stderr
    assert broken.returncode != 0
    assert "BROKEN balance_equals_ledger" in broken.stderr


@pytest.fixture
def ledger_with_the_house(settings, make_customer, queue):
    """A ledger with the house in it, all written by the services: a
    deposit, a topped-up purchase completed and one refused (its share
    refunded), a cancelled order, and a pending one."""
    settings.POOL_MAX_WAIT_SECONDS = 0.05
    settings.EXCHANGE_REJECT_CRYPTOS = ["DOGE"]
    house_deposit(amount=Decimal("30.00"))
    dave = make_customer("dave", Decimal("100.00"))
    bought = order_place(
        customer_id=dave.pk, symbol="ABAN", amount=Decimal("0.5")
    )
    refused = order_place(
        customer_id=dave.pk, symbol="DOGE", amount=Decimal("10")
    )
    time.sleep(0.1)
    sweeper.sweep()
    jobs.purchase_execute(0)  # a job buys every purchase that is ready
    bought.refresh_from_db()
    refused.refresh_from_db()
    assert (bought.status, refused.status) == ("completed", "failed")
    cancelled = order_place(
        customer_id=dave.pk, symbol="ABAN", amount=Decimal("0.25")
    )
    order_cancel(order_id=cancelled.pk)
    settings.POOL_MAX_WAIT_SECONDS = 600
    pending = order_place(
        customer_id=dave.pk, symbol="ABAN", amount=Decimal("1")
    )
    return {
        "bought": bought,
        "refused": refused,
        "cancelled": cancelled,
        "pending": pending,
    }


def test_audit_passes_on_books_with_the_house(ledger_with_the_house):
    assert Purchase.objects.filter(house_total__gt=0).count() == 2
    assert HouseHolding.objects.count() == 1

    assert audit_ledger() == set()


def test_audit_names_house_balance_edited_behind_its_ledger(
    ledger_with_the_house,
):
    raw("UPDATE accounts_house SET balance = balance + 1 WHERE id = 1", [])

    assert audit_ledger() == {
        "house_balance_equals_ledger",
        "house_deposits_equal_balance_plus_shares",
    }


def test_audit_names_top_up_never_paid(ledger_with_the_house):
    raw(
        "DELETE FROM accounts_houseledgerentry "
        "WHERE purchase_id = %s AND kind = 'house_top_up'",
        [ledger_with_the_house["bought"].purchase_id],
    )

    assert {"house_share_paid_once", "house_balance_equals_ledger"} <= (
        audit_ledger()
    )


def test_audit_names_house_share_edited_on_a_purchase(ledger_with_the_house):
    raw(
        "UPDATE orders_purchase SET house_total = house_total - 1 "
        "WHERE id = %s",
        [ledger_with_the_house["bought"].purchase_id],
    )

    assert {"purchase_sums_its_orders", "house_share_paid_once"} <= (
        audit_ledger()
    )


def test_audit_names_house_holding_edited(ledger_with_the_house):
    raw(
        "UPDATE accounts_householding SET amount = amount + 1 "
        "WHERE crypto_id = 'ABAN'",
        [],
    )

    assert audit_ledger() == {"house_holdings_are_its_completed_shares"}


def test_audit_names_refund_lost_from_cancelled_order(ledger_with_the_house):
    raw(
        "DELETE FROM accounts_ledgerentry "
        "WHERE order_id = %s AND kind = 'refund'",
        [ledger_with_the_house["cancelled"].pk],
    )

    assert "refund_only_for_failed_or_cancelled" in audit_ledger()


def test_audit_names_pool_waiting_since_out_of_step(ledger_with_the_house):
    raw(
        "UPDATE orders_pool SET waiting_since = waiting_since "
        "+ interval '1 hour' WHERE crypto_id = 'ABAN'",
        [],
    )

    assert audit_ledger() == {"pool_waits_since_oldest_order"}
