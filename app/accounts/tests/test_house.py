"""The house account over HTTP: operators only, deposits with a ledger
entry, validation that writes nothing, and replays that pay once."""

from decimal import Decimal

import pytest

from accounts.models import House, HouseLedgerEntry

pytestmark = pytest.mark.django_db


def house_balance():
    return House.objects.get(pk=House.ID).balance


def test_operator_funds_the_house_and_reads_its_ledger(
    operator_client, assert_books_balance
):
    response = operator_client.post(
        "/api/house/deposit/", {"amount": "100.00"}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json() == {
        "balance": "100.00",
        "short_by": "0.00",
        "top_ups": 0,
        "holdings": [],
    }
    assert operator_client.get("/api/house/").json()["balance"] == "100.00"
    ledger = operator_client.get("/api/house/ledger/").json()["results"]
    assert [(e["kind"], e["amount"], e["balance_after"]) for e in ledger] == [
        ("deposit", "100.00", "100.00")
    ]
    assert ledger[0]["purchase_id"] is None
    assert_books_balance()


@pytest.mark.parametrize(
    "body",
    [
        {"amount": "0"},
        {"amount": "-5.00"},
        {"amount": "1.001"},
        {"amount": "NaN"},
        {"amount": "1e3"},
        {"amount": True},
        {},
        {"amount": "100000000.00"},
    ],
)
def test_a_bad_deposit_writes_nothing(operator_client, body):
    response = operator_client.post("/api/house/deposit/", body, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid"
    assert house_balance() == 0
    assert not HouseLedgerEntry.objects.exists()


def test_a_deposit_past_the_balance_column_is_refused(operator_client):
    ok = operator_client.post(
        "/api/house/deposit/", {"amount": "99999999.00"}, format="json"
    )
    over = operator_client.post(
        "/api/house/deposit/", {"amount": "1.00"}, format="json"
    )

    assert ok.status_code == 200
    assert over.status_code == 400
    assert "amount" in over.json()["error"]["details"]
    assert house_balance() == Decimal("99999999.00")


def test_a_replayed_deposit_pays_once(operator_client):
    headers = {"HTTP_IDEMPOTENCY_KEY": "house-1"}
    first = operator_client.post(
        "/api/house/deposit/", {"amount": "5.00"}, format="json", **headers
    )
    replay = operator_client.post(
        "/api/house/deposit/", {"amount": "5.00"}, format="json", **headers
    )

    assert first.status_code == replay.status_code == 200
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert house_balance() == Decimal("5.00")


def test_only_operators_see_or_fund_the_house(make_customer, client_for):
    alice = client_for(make_customer("alice"))
    anonymous = alice.__class__()

    for client, status in ((alice, 403), (anonymous, 401)):
        for method, path in (
            ("get", "/api/house/"),
            ("get", "/api/house/ledger/"),
            ("post", "/api/house/deposit/"),
        ):
            response = getattr(client, method)(
                path, {"amount": "5.00"}, format="json"
            )
            assert response.status_code == status, (path, response.content)
    assert house_balance() == 0
