"""The accounts API as operators and customers use it: tokens, customers,
deposits, ledgers and key rotation."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import ApiToken, Customer, LedgerEntry
from core.testing.clients import token_client
from core.testing.contract import LEDGER_ENTRY_FIELDS
from core.testing.envelope import assert_error
from orders.models import Order
from orders.services import purchase_fail

pytestmark = pytest.mark.django_db


def is_utc_iso(value):
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.utcoffset() == timedelta(0)


def customer_url(customer_id, action=None):
    base = f"/api/customer/{customer_id}/"
    return f"{base}{action}/" if action else base


# --- operator tokens ---------------------------------------------------


def test_operator_trades_password_for_a_working_token(operator):
    response = APIClient().post(
        "/api/token/",
        {"username": "operator", "password": "s3cret-pass"},
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"token"}
    assert isinstance(body["token"], str) and body["token"]
    listing = token_client(body["token"]).get("/api/customer/")
    assert listing.status_code == 200


def test_wrong_password_gets_no_token(operator):
    tokens_before = ApiToken.objects.count()

    response = APIClient().post(
        "/api/token/",
        {"username": "operator", "password": "wrong"},
        format="json",
    )

    assert_error(response, 401, "not_authenticated")
    assert ApiToken.objects.count() == tokens_before


def test_non_staff_user_gets_no_token(db):
    get_user_model().objects.create_user(
        username="plain", password="plain-pass-123", is_staff=False
    )

    response = APIClient().post(
        "/api/token/",
        {"username": "plain", "password": "plain-pass-123"},
        format="json",
    )

    assert_error(response, 401, "not_authenticated")
    assert not ApiToken.objects.exists()


def test_tokens_and_keys_are_stored_only_hashed(operator, make_customer):
    issued = APIClient().post(
        "/api/token/",
        {"username": "operator", "password": "s3cret-pass"},
        format="json",
    )
    customer = make_customer("alice")
    keys = [issued.json()["token"], operator.api_token, customer.api_key]

    for key in keys:
        assert not ApiToken.objects.filter(digest=key).exists()
    assert ApiToken.objects.filter(user=operator).count() == 2
    # No table holds any key in plain text.
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"SELECT t::text FROM {quoted} t")
            for (row,) in cursor.fetchall():
                for key in keys:
                    assert key not in row, f"{table} stores a key"


# --- customers -----------------------------------------------------------


def test_operator_creates_customer_with_default_balance(operator_client):
    response = operator_client.post(
        "/api/customer/", {"name": "bob"}, format="json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"id", "name", "balance", "api_key"}
    assert body["name"] == "bob"
    assert body["balance"] == "100.00"
    own = token_client(body["api_key"]).get(customer_url(body["id"]))
    assert own.status_code == 200
    assert own.json() == {"id": body["id"], "name": "bob", "balance": "100.00"}
    entries = list(LedgerEntry.objects.filter(customer_id=body["id"]))
    assert [(e.kind, e.amount, e.balance_after) for e in entries] == [
        ("deposit", Decimal("100.00"), Decimal("100.00"))
    ]


def test_operator_creates_customer_with_custom_balance(
    operator_client, assert_books_balance
):
    response = operator_client.post(
        "/api/customer/", {"name": "carol", "balance": "250.50"}, format="json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["balance"] == "250.50"
    customer = Customer.objects.get(pk=response.json()["id"])
    assert customer.balance == Decimal("250.50")
    assert customer.ledger.get().amount == Decimal("250.50")
    assert_books_balance()


def test_customer_cannot_create_customers(
    make_customer, client_for, balances_and_row_counts
):
    alice = make_customer("alice")
    before = balances_and_row_counts()

    response = client_for(alice).post(
        "/api/customer/", {"name": "mallory"}, format="json"
    )

    assert_error(response, 403, "permission_denied")
    assert balances_and_row_counts() == before


def test_anonymous_cannot_create_customers(db):
    response = APIClient().post(
        "/api/customer/", {"name": "mallory"}, format="json"
    )

    assert_error(response, 401, "not_authenticated")
    assert not Customer.objects.exists()


def test_operator_sees_every_customer(operator_client, make_customer):
    alice = make_customer("alice")
    bob = make_customer("bob", Decimal("5.00"))

    listing = operator_client.get("/api/customer/")
    detail = operator_client.get(customer_url(bob.pk))

    assert listing.status_code == 200
    body = listing.json()
    assert {"next", "previous", "results"} <= set(body)
    assert sorted(body["results"], key=lambda c: c["id"]) == [
        {"id": alice.pk, "name": "alice", "balance": "100.00"},
        {"id": bob.pk, "name": "bob", "balance": "5.00"},
    ]
    assert detail.status_code == 200
    assert detail.json() == {"id": bob.pk, "name": "bob", "balance": "5.00"}


def test_customer_sees_only_itself(make_customer, client_for):
    alice = make_customer("alice")
    bob = make_customer("bob")
    client = client_for(alice)

    listing = client.get("/api/customer/")
    own = client.get(customer_url(alice.pk))
    other = client.get(customer_url(bob.pk))

    assert listing.status_code == 200
    assert listing.json()["results"] == [
        {"id": alice.pk, "name": "alice", "balance": "100.00"}
    ]
    assert own.status_code == 200
    assert own.json()["id"] == alice.pk
    assert_error(other, 404, "not_found")


# --- deposits ------------------------------------------------------------


def test_operator_deposit_credits_balance_and_ledger(
    operator_client, make_customer, assert_books_balance
):
    alice = make_customer("alice")

    response = operator_client.post(
        customer_url(alice.pk, "deposit"), {"amount": "25.50"}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json() == {
        "id": alice.pk,
        "name": "alice",
        "balance": "125.50",
    }
    alice.refresh_from_db()
    assert alice.balance == Decimal("125.50")
    newest = alice.ledger.order_by("-id").first()
    assert (newest.kind, newest.amount, newest.balance_after) == (
        "deposit",
        Decimal("25.50"),
        Decimal("125.50"),
    )
    assert newest.order_id is None
    assert_books_balance()


def test_customer_cannot_deposit_even_to_itself(
    make_customer, client_for, balances_and_row_counts
):
    alice = make_customer("alice")
    before = balances_and_row_counts()

    response = client_for(alice).post(
        customer_url(alice.pk, "deposit"), {"amount": "10.00"}, format="json"
    )

    assert_error(response, 403, "permission_denied")
    assert balances_and_row_counts() == before


def test_deposit_to_unknown_customer_is_not_found(operator_client):
    response = operator_client.post(
        customer_url(999999, "deposit"), {"amount": "10.00"}, format="json"
    )

    assert_error(response, 404, "not_found")
    assert not LedgerEntry.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"amount": "0"}, "amount"),
        ({"amount": 0}, "amount"),
        ({"amount": "-1"}, "amount"),
        ({"amount": -1}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"amount": "1.001"}, "amount"),
        ({"amount": "NaN"}, "amount"),
        ({"amount": "Infinity"}, "amount"),
        ({"amount": "1e3"}, "amount"),
        ({"amount": True}, "amount"),
        ({"amount": None}, "amount"),
        ({}, "amount"),
        ({"amount": "10.00", "note": "gift"}, "note"),
    ],
    ids=repr,
)
def test_invalid_deposit_is_refused_and_writes_nothing(
    operator_client, make_customer, payload, field, balances_and_row_counts
):
    alice = make_customer("alice")
    before = balances_and_row_counts()

    response = operator_client.post(
        customer_url(alice.pk, "deposit"), payload, format="json"
    )

    error = assert_error(response, 400, "invalid")
    assert field in error["details"]
    assert balances_and_row_counts() == before


@pytest.mark.parametrize(
    "body", ['{"amount": NaN}', '{"amount": 1e3}', '{"amount": Infinity}']
)
def test_deposit_refuses_raw_json_non_plain_numbers(
    operator_client, make_customer, body, balances_and_row_counts
):
    alice = make_customer("alice")
    before = balances_and_row_counts()

    response = operator_client.post(
        customer_url(alice.pk, "deposit"),
        body,
        content_type="application/json",
    )

    assert_error(response, 400, "invalid")
    assert balances_and_row_counts() == before


def test_deposit_beyond_maximum_balance_is_refused(
    operator_client, make_customer, balances_and_row_counts
):
    rich = make_customer("rich", Decimal("99999999.00"))
    before = balances_and_row_counts()

    response = operator_client.post(
        customer_url(rich.pk, "deposit"), {"amount": "1.00"}, format="json"
    )

    assert_error(response, 400, "invalid")
    assert balances_and_row_counts() == before


def test_deposit_up_to_maximum_balance_is_accepted(
    operator_client, make_customer
):
    rich = make_customer("rich", Decimal("99999999.00"))

    response = operator_client.post(
        customer_url(rich.pk, "deposit"), {"amount": "0.99"}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["balance"] == "99999999.99"


def test_deposit_keeps_room_to_refund_every_open_order(
    operator_client,
    make_customer,
    client_for,
    assert_books_balance,
    balances_and_row_counts,
):
    """A deposit may not fill the balance so far that refunding an open
    order would overflow it: the refund of a failed purchase must fit."""
    rich = make_customer("rich", Decimal("100.00"))
    placed = client_for(rich).post(
        "/api/order/", {"crypto": "ETH", "amount": "0.01"}, format="json"
    )  # 32.00, open until its purchase ends
    assert placed.status_code == 201, placed.content
    to_the_brim = str(Decimal("99999999.99") - Decimal("68.00"))
    before = balances_and_row_counts()

    refused = operator_client.post(
        customer_url(rich.pk, "deposit"),
        {"amount": to_the_brim},
        format="json",
    )

    assert_error(refused, 400, "invalid")
    assert "open orders" in refused.json()["error"]["details"]["amount"][0]
    assert balances_and_row_counts() == before
    room = str(Decimal("99999999.99") - Decimal("32.00") - Decimal("68.00"))
    accepted = operator_client.post(
        customer_url(rich.pk, "deposit"), {"amount": room}, format="json"
    )
    assert accepted.status_code == 200, accepted.content

    purchase_fail(purchase_id=placed.json()["purchase_id"], error="refused")

    rich.refresh_from_db()
    assert rich.balance == Decimal("99999999.99")
    assert Order.objects.get().status == Order.Status.FAILED
    assert_books_balance()


# --- ledger ----------------------------------------------------------------


def test_ledger_lists_signed_entries(
    operator_client, make_customer, client_for
):
    alice = make_customer("alice")
    operator_client.post(
        customer_url(alice.pk, "deposit"), {"amount": "10.00"}, format="json"
    )
    order = client_for(alice).post(
        "/api/order/", {"crypto": "ABAN", "amount": "1"}, format="json"
    )
    assert order.status_code == 201, order.content

    for client in (operator_client, client_for(alice)):
        response = client.get(customer_url(alice.pk, "ledger"))

        assert response.status_code == 200, response.content
        body = response.json()
        assert {"next", "previous", "results"} <= set(body)
        entries = body["results"]
        for entry in entries:
            assert set(entry) == LEDGER_ENTRY_FIELDS
            assert is_utc_iso(entry["created_at"])
        by_kind = sorted(
            (e["kind"], e["amount"], e["balance_after"], e["order_id"])
            for e in entries
        )
        assert by_kind == [
            ("deposit", "10.00", "110.00", None),
            ("deposit", "100.00", "100.00", None),
            ("order", "-4.00", "106.00", order.json()["id"]),
        ]


def test_ledger_of_another_customer_is_not_found(make_customer, client_for):
    alice = make_customer("alice")
    bob = make_customer("bob")

    response = client_for(alice).get(customer_url(bob.pk, "ledger"))

    assert_error(response, 404, "not_found")


def test_ledger_is_paginated(operator_client, make_customer):
    alice = make_customer("alice")
    for _ in range(3):
        operator_client.post(
            customer_url(alice.pk, "deposit"), {"amount": "1"}, format="json"
        )

    first = operator_client.get(
        customer_url(alice.pk, "ledger"), {"page_size": 2}
    )

    assert first.status_code == 200
    body = first.json()
    assert len(body["results"]) == 2
    assert body["previous"] is None
    assert body["next"]
    second = operator_client.get(body["next"])
    assert second.status_code == 200
    ids = [e["id"] for e in body["results"] + second.json()["results"]]
    assert len(ids) == len(set(ids)) == 4


# --- key rotation ----------------------------------------------------------


def test_rotate_key_replaces_the_old_key(
    operator_client, make_customer, client_for
):
    alice = make_customer("alice")
    old_client = client_for(alice)
    assert old_client.get(customer_url(alice.pk)).status_code == 200

    response = operator_client.post(
        customer_url(alice.pk, "rotate-key"), format="json"
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == alice.pk
    assert body["api_key"] and body["api_key"] != alice.api_key
    new = token_client(body["api_key"]).get(customer_url(alice.pk))
    assert new.status_code == 200
    assert_error(
        old_client.get(customer_url(alice.pk)), 401, "not_authenticated"
    )


def test_customer_cannot_rotate_keys(make_customer, client_for):
    alice = make_customer("alice")
    client = client_for(alice)

    response = client.post(customer_url(alice.pk, "rotate-key"), format="json")

    assert_error(response, 403, "permission_denied")
    assert client.get(customer_url(alice.pk)).status_code == 200
