"""Who did it: every money movement and credential event records the
operator or customer key behind it, or the service itself; operators
query it at /api/ledger/ and /api/credential-events/."""

import time

import pytest
from rest_framework.test import APIClient

from accounts.models import (
    ApiToken,
    CredentialEvent,
    HouseLedgerEntry,
    LedgerEntry,
)
from core.testing.clients import token_client
from orders import jobs, sweeper

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("queue"),
]


def token_of(raw_key):
    return ApiToken.objects.get(prefix=raw_key[:10])


def actor_of(row):
    return (row.actor_user_id, row.actor_token_id)


def test_each_money_movement_names_who_moved_it(
    settings, operator, operator_client, client_for, assert_books_balance
):
    settings.EXCHANGE_REJECT_CRYPTOS = ["SOL"]
    settings.POOL_MAX_WAIT_SECONDS = 0.05
    op = (operator.pk, token_of(operator.api_token).pk)
    created = operator_client.post(
        "/api/customer/", {"name": "alice"}, format="json"
    ).json()
    alice_key = created["api_key"]
    alice = client_for(type("C", (), {"api_key": alice_key}))
    as_alice = (token_of(alice_key).user_id, token_of(alice_key).pk)

    operator_client.post(
        f"/api/customer/{created['id']}/deposit/",
        {"amount": "10.00"},
        format="json",
    )
    pooled = alice.post(
        "/api/order/", {"crypto": "ABAN", "amount": "0.5"}, format="json"
    ).json()
    alice.post(f"/api/order/{pooled['id']}/cancel/")
    refused = alice.post(
        "/api/order/", {"crypto": "SOL", "amount": "0.1"}, format="json"
    ).json()
    jobs.purchase_execute(refused["purchase_id"])
    operator_client.post(
        "/api/house/deposit/", {"amount": "20.00"}, format="json"
    )
    alice.post(
        "/api/order/", {"crypto": "ABAN", "amount": "0.25"}, format="json"
    )
    time.sleep(0.1)
    sweeper.sweep()

    entries = [
        (e.kind, e.order_id, actor_of(e))
        for e in LedgerEntry.objects.filter(
            customer_id=created["id"]
        ).order_by("id")
    ]
    assert entries == [
        ("deposit", None, op),  # the opening deposit
        ("deposit", None, op),
        ("order", pooled["id"], as_alice),
        ("refund", pooled["id"], as_alice),  # her cancel
        ("order", refused["id"], as_alice),
        ("refund", refused["id"], (None, None)),  # the worker's refund
        ("order", pooled["id"] + 2, as_alice),
    ]
    house = {e.kind: actor_of(e) for e in HouseLedgerEntry.objects.all()}
    assert house == {"deposit": op, "house_top_up": (None, None)}
    assert_books_balance()


def test_each_credential_event_names_who_did_it(operator, operator_client):
    op = (operator.pk, token_of(operator.api_token).pk)
    created = operator_client.post(
        "/api/customer/", {"name": "bob"}, format="json"
    ).json()
    customer_id = created["id"]
    rotated = operator_client.post(
        f"/api/customer/{customer_id}/rotate-key/"
    ).json()
    bob = token_client(rotated["api_key"])
    assert bob.delete("/api/token/").status_code == 204
    operator_client.post(f"/api/customer/{customer_id}/revoke-keys/")

    events = [
        (e.kind, e.token_id, actor_of(e))
        for e in CredentialEvent.objects.exclude(
            kind="operator_token_issued"
        ).order_by("id")
    ]
    new_key = token_of(rotated["api_key"])
    assert events == [
        ("customer_key_created", token_of(created["api_key"]).pk, op),
        ("customer_key_rotated", new_key.pk, op),
        ("token_revoked", new_key.pk, (new_key.user_id, new_key.pk)),
        ("customer_keys_revoked", None, op),
    ]
    issued = CredentialEvent.objects.get(kind="operator_token_issued")
    assert actor_of(issued) == (operator.pk, None)  # by its password


def test_a_browser_session_is_recorded_as_its_user_without_a_token(
    operator, make_customer
):
    alice = make_customer("alice")
    browser = APIClient(enforce_csrf_checks=False)
    browser.force_login(operator)

    response = browser.post(
        f"/api/customer/{alice.pk}/deposit/", {"amount": "1.00"}, format="json"
    )

    assert response.status_code == 200, response.content
    entry = LedgerEntry.objects.filter(kind="deposit").latest("id")
    assert actor_of(entry) == (operator.pk, None)


def test_operators_query_the_ledger_by_actor(
    operator, operator_client, make_customer, client_for
):
    alice = make_customer("alice")
    client_for(alice).post(
        "/api/order/", {"crypto": "ETH", "amount": "0.01"}, format="json"
    )
    operator_client.post(
        f"/api/customer/{alice.pk}/deposit/", {"amount": "5.00"}, format="json"
    )

    by_operator = operator_client.get(f"/api/ledger/?actor={operator.pk}")

    assert by_operator.status_code == 200
    [entry] = by_operator.json()["results"]
    assert (entry["kind"], entry["amount"], entry["customer_id"]) == (
        "deposit",
        "5.00",
        alice.pk,
    )
    assert entry["actor"] == {
        "role": "operator",
        "user_id": operator.pk,
        "username": "operator",
        "token": token_of(operator.api_token).prefix + "…",
    }
    orders = operator_client.get(
        f"/api/ledger/?customer={alice.pk}&kind=order"
    ).json()["results"]
    assert [e["actor"]["role"] for e in orders] == ["customer"]
    assert operator_client.get("/api/ledger/?actor=٣").status_code == 400
    assert operator_client.get("/api/ledger/?kind=gift").status_code == 400
    events = operator_client.get(
        f"/api/credential-events/?subject={alice.user_id}"
    ).json()["results"]
    assert [e["kind"] for e in events] == ["customer_key_created"]
    assert events[0]["actor"]["role"] == "service"  # made by a test
    for path in ("/api/ledger/", "/api/credential-events/"):
        assert client_for(alice).get(path).status_code == 403


def test_a_user_or_token_that_moved_money_cannot_be_deleted(
    operator, operator_client, make_customer
):
    """The actor columns are not database foreign keys (their check
    would lock the user's and the key's rows on every order); Django's
    PROTECT still keeps who moved money."""
    from django.db.models import ProtectedError

    alice = make_customer("alice")
    operator_client.post(
        f"/api/customer/{alice.pk}/deposit/", {"amount": "5.00"}, format="json"
    )
    token = token_of(operator.api_token)

    with pytest.raises(ProtectedError):
        token.delete()
    with pytest.raises(ProtectedError):
        operator.delete()
    assert LedgerEntry.objects.filter(actor_token=token).count() == 1
