"""The orders API as customers and operators use it: cryptos, placing
and reading orders, purchases, health and the schema."""

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from accounts.models import LedgerEntry
from core.testing.contract import ORDER_FIELDS, PURCHASE_FIELDS
from core.testing.envelope import assert_error
from orders.models import Order, Purchase

pytestmark = pytest.mark.django_db

# What the API answers: docs/api.md's fields and the service's own.
ORDER_BODY = ORDER_FIELDS | {"pool"}
PURCHASE_BODY = PURCHASE_FIELDS | {"house_amount", "house_total"}


def assert_utc_iso(value):
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.utcoffset() == timedelta(0), value


def order(client, **payload):
    return client.post("/api/order/", payload, format="json")


def raw_order(client, body):
    return client.post("/api/order/", body, content_type="application/json")


# --- cryptos ---------------------------------------------------------------


def test_anyone_lists_the_cryptos(db):
    response = APIClient().get("/api/crypto/")

    assert response.status_code == 200
    body = response.json()
    assert isinstance(body, list)
    for crypto in body:
        assert set(crypto) == {"symbol", "name", "price"}
        assert isinstance(crypto["price"], str)
    prices = {c["symbol"]: Decimal(c["price"]) for c in body}
    assert prices == {
        "ABAN": Decimal("4.00"),
        "BTC": Decimal("65000"),
        "ETH": Decimal("3200"),
        "SOL": Decimal("150"),
        "DOGE": Decimal("0.15"),
    }


# --- placing orders ----------------------------------------------------------


def test_customer_places_order_for_itself(
    make_customer, client_for, assert_books_balance, balance_of
):
    alice = make_customer("alice")

    response = order(client_for(alice), crypto="ABAN", amount="2")

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == ORDER_BODY
    assert body["customer_id"] == alice.pk
    assert body["crypto"] == "ABAN"
    assert Decimal(body["amount"]) == Decimal("2")
    assert isinstance(body["amount"], str)
    assert Decimal(body["price"]) == Decimal("4.00")
    assert body["total"] == "8.00"
    assert body["status"] == "pending"
    assert body["purchase_id"] is None
    assert_utc_iso(body["created_at"])
    assert_utc_iso(body["updated_at"])
    assert balance_of(alice) == Decimal("92.00")
    debit = LedgerEntry.objects.get(order_id=body["id"])
    assert (debit.kind, debit.amount, debit.balance_after) == (
        "order",
        Decimal("-8.00"),
        Decimal("92.00"),
    )
    assert_books_balance()


def test_order_at_threshold_is_submitted_in_its_own_purchase(
    make_customer, client_for, assert_books_balance
):
    alice = make_customer("alice")

    response = order(client_for(alice), crypto="ABAN", amount="2.5")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["total"] == "10.00"
    assert body["status"] == "submitted"
    purchase = Purchase.objects.get(pk=body["purchase_id"])
    assert list(purchase.orders.values_list("id", flat=True)) == [body["id"]]
    assert_books_balance()


@pytest.mark.parametrize("amount", ["1.5", 1.5], ids=["string", "number"])
def test_amount_may_be_a_string_or_a_json_number(
    make_customer, client_for, amount, balance_of
):
    alice = make_customer("alice")

    response = order(client_for(alice), crypto="ABAN", amount=amount)

    assert response.status_code == 201, response.content
    assert Decimal(response.json()["amount"]) == Decimal("1.5")
    assert response.json()["total"] == "6.00"
    assert balance_of(alice) == Decimal("94.00")


def test_lowercase_symbol_is_accepted(make_customer, client_for):
    alice = make_customer("alice")

    response = order(client_for(alice), crypto="aban", amount="1")

    assert response.status_code == 201, response.content
    assert response.json()["crypto"] == "ABAN"


def test_json_number_arrives_exactly(make_customer, client_for, balance_of):
    alice = make_customer("alice", Decimal("70000.00"))

    response = raw_order(
        client_for(alice), '{"crypto": "BTC", "amount": 1.0000000001}'
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["amount"] == "1.0000000001"
    # 65000 * 1.0000000001 = 65000.0000065, rounded up to the cent.
    assert body["total"] == "65000.01"
    assert balance_of(alice) == Decimal("4999.99")


def test_json_number_beyond_float_precision_arrives_exactly(
    make_customer, client_for, balance_of
):
    rich = make_customer("rich", Decimal("99999999.99"))

    response = raw_order(
        client_for(rich), '{"crypto": "DOGE", "amount": 123456789.0000000001}'
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["amount"] == "123456789.0000000001"
    # 0.15 * 123456789.0000000001 = 18518518.350000000015 -> 18518518.36;
    # through a float the amount would be 123456789.0 and the total .35.
    assert body["total"] == "18518518.36"
    assert balance_of(rich) == Decimal("99999999.99") - Decimal("18518518.36")


def test_total_is_rounded_up_to_the_cent(
    make_customer, client_for, balance_of
):
    alice = make_customer("alice")

    # 0.15 * 0.1 = 0.015 -> 0.02
    response = order(client_for(alice), crypto="DOGE", amount="0.1")

    assert response.status_code == 201, response.content
    assert response.json()["total"] == "0.02"
    assert balance_of(alice) == Decimal("99.98")


def test_customer_may_name_itself(make_customer, client_for):
    alice = make_customer("alice")

    response = order(
        client_for(alice), crypto="ABAN", amount="1", customer_id=alice.pk
    )

    assert response.status_code == 201, response.content
    assert response.json()["customer_id"] == alice.pk


def test_customer_naming_another_customer_is_forbidden(
    make_customer, client_for, balances_and_row_counts
):
    alice = make_customer("alice")
    bob = make_customer("bob")
    before = balances_and_row_counts()

    response = order(
        client_for(alice), crypto="ABAN", amount="1", customer_id=bob.pk
    )

    assert_error(response, 403, "permission_denied")
    assert balances_and_row_counts() == before


def test_operator_must_name_a_customer(
    operator_client, make_customer, balances_and_row_counts
):
    make_customer("alice")  # whose balance must not move
    before = balances_and_row_counts()

    response = order(operator_client, crypto="ABAN", amount="1")

    error = assert_error(response, 400, "invalid")
    assert "customer_id" in error["details"]
    assert balances_and_row_counts() == before


def test_operator_orders_for_a_customer(
    operator_client, make_customer, assert_books_balance, balance_of
):
    alice = make_customer("alice")

    response = order(
        operator_client, crypto="ABAN", amount="1", customer_id=alice.pk
    )

    assert response.status_code == 201, response.content
    assert response.json()["customer_id"] == alice.pk
    assert response.json()["total"] == "4.00"
    assert balance_of(alice) == Decimal("96.00")
    assert_books_balance()


def test_operator_naming_unknown_customer_is_refused_by_field(
    operator_client,
):
    response = order(
        operator_client, crypto="ABAN", amount="1", customer_id=999999
    )

    # docs/api.md's 404 for an unknown id, naming the body's field.
    assert_error(response, 404, "not_found")
    assert response.json()["error"]["details"] == {
        "customer_id": ["No customer has this id."]
    }
    assert not Order.objects.exists()
    assert not LedgerEntry.objects.exists()


def test_unknown_crypto_is_refused(
    make_customer, client_for, balances_and_row_counts
):
    alice = make_customer("alice")
    before = balances_and_row_counts()

    response = order(client_for(alice), crypto="XRP", amount="1")

    assert_error(response, 400, "unknown_crypto")
    # It says what would do.
    said = "'XRP' is not listed. Listed: ABAN, BTC, DOGE, ETH, SOL."
    assert response.json()["error"]["message"] == said
    assert response.json()["error"]["details"] == {"crypto": [said]}
    assert balances_and_row_counts() == before


@pytest.mark.parametrize("amount", ["0", "-1", "0.0000000000", 0])
def test_an_amount_of_nothing_is_refused_as_not_above_zero(
    make_customer, client_for, amount
):
    alice = make_customer("alice")

    response = order(client_for(alice), crypto="ABAN", amount=amount)

    assert_error(response, 400, "invalid")
    assert response.json()["error"]["details"]["amount"] == [
        "Ensure this value is greater than 0."
    ]


def test_insufficient_funds_is_refused_and_writes_nothing(
    make_customer, client_for, balances_and_row_counts
):
    alice = make_customer("alice", Decimal("10.00"))
    before = balances_and_row_counts()

    # 4.00 * 2.5025 = 10.01 > 10.00
    response = order(client_for(alice), crypto="ABAN", amount="2.5025")

    assert_error(response, 400, "insufficient_funds")
    assert balances_and_row_counts() == before


def test_order_for_the_whole_balance_is_accepted(
    make_customer, client_for, balance_of
):
    alice = make_customer("alice", Decimal("10.00"))

    response = order(client_for(alice), crypto="ABAN", amount="2.5")

    assert response.status_code == 201, response.content
    assert balance_of(alice) == Decimal("0.00")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"crypto": "ABAN", "amount": "0"}, "amount"),
        ({"crypto": "ABAN", "amount": 0}, "amount"),
        ({"crypto": "ABAN", "amount": "-1"}, "amount"),
        ({"crypto": "ABAN", "amount": -1}, "amount"),
        ({"crypto": "ABAN", "amount": "abc"}, "amount"),
        ({"crypto": "ABAN", "amount": "NaN"}, "amount"),
        ({"crypto": "ABAN", "amount": "Infinity"}, "amount"),
        ({"crypto": "ABAN", "amount": "-Infinity"}, "amount"),
        ({"crypto": "ABAN", "amount": "1e3"}, "amount"),
        ({"crypto": "ABAN", "amount": "1E-2"}, "amount"),
        ({"crypto": "ABAN", "amount": "0.12345678901"}, "amount"),
        ({"crypto": "ABAN", "amount": "12345678901.1234567890"}, "amount"),
        ({"crypto": "ABAN", "amount": True}, "amount"),
        ({"crypto": "ABAN", "amount": None}, "amount"),
        ({"crypto": "ABAN", "amount": ""}, "amount"),
        ({"crypto": "ABAN", "amount": ["1"]}, "amount"),
        ({"crypto": "ABAN"}, "amount"),
        ({"amount": "1"}, "crypto"),
        ({"crypto": 123, "amount": "1"}, "crypto"),
        ({"crypto": None, "amount": "1"}, "crypto"),
        ({"crypto": "", "amount": "1"}, "crypto"),
        ({"crypto": "ABAN", "amount": "1", "price": "0.01"}, "price"),
        ({"crypto": "ABAN", "amount": "1", "total": "0.01"}, "total"),
        ({"crypto": "ABAN", "amount": "1", "status": "completed"}, "status"),
        ({"crypto": "ABAN", "amount": "1", "balance": "1000"}, "balance"),
        (
            {"crypto": "ABAN", "amount": "1", "customer_id": "me"},
            "customer_id",
        ),
        ({"crypto": "ABAN", "amount": "1", "customer_id": 0}, "customer_id"),
    ],
    ids=repr,
)
def test_invalid_order_is_refused_and_writes_nothing(
    make_customer, client_for, payload, field, balances_and_row_counts
):
    alice = make_customer("alice")
    before = balances_and_row_counts()

    response = order(client_for(alice), **payload)

    error = assert_error(response, 400, "invalid")
    assert field in error["details"], error
    assert balances_and_row_counts() == before


@pytest.mark.parametrize(
    "body",
    [
        '{"crypto": "ABAN", "amount": NaN}',
        '{"crypto": "ABAN", "amount": Infinity}',
        '{"crypto": "ABAN", "amount": -Infinity}',
        '{"crypto": "ABAN", "amount": 1e3}',
        '{"crypto": "ABAN", "amount": 1.00000000001}',
        '["ABAN", 1]',
        '"ABAN"',
    ],
)
def test_invalid_raw_json_order_is_refused(
    make_customer, client_for, body, balances_and_row_counts
):
    alice = make_customer("alice")
    before = balances_and_row_counts()

    response = raw_order(client_for(alice), body)

    assert_error(response, 400, "invalid")
    assert balances_and_row_counts() == before


def test_order_whose_total_is_below_a_cent_is_refused(
    make_customer, client_for, balances_and_row_counts
):
    alice = make_customer("alice")
    before = balances_and_row_counts()

    # 0.15 * 0.01 = 0.0015: below 0.01, however the total is rounded.
    response = order(client_for(alice), crypto="DOGE", amount="0.01")

    error = assert_error(response, 400, "invalid")
    assert "amount" in error["details"]
    assert balances_and_row_counts() == before


def test_anonymous_cannot_order(make_customer, balances_and_row_counts):
    make_customer("alice")  # whose balance must not move
    before = balances_and_row_counts()

    response = order(APIClient(), crypto="ABAN", amount="1")

    assert_error(response, 401, "not_authenticated")
    assert balances_and_row_counts() == before


# --- reading orders ----------------------------------------------------------


@pytest.fixture
def three_orders(make_customer, client_for):
    """alice: a pending ABAN and a submitted BTC order; bob: a pending
    DOGE order."""
    alice = make_customer("alice", Decimal("1000.00"))
    bob = make_customer("bob")
    small = order(client_for(alice), crypto="ABAN", amount="1").json()
    large = order(client_for(alice), crypto="BTC", amount="0.001").json()
    dog = order(client_for(bob), crypto="DOGE", amount="10").json()
    assert (small["status"], large["status"], dog["status"]) == (
        "pending",
        "submitted",
        "pending",
    )
    return alice, bob, small, large, dog


def ids_of(response):
    assert response.status_code == 200, response.content
    body = response.json()
    assert {"next", "previous", "results"} <= set(body)
    for item in body["results"]:
        assert set(item) == ORDER_BODY
    return sorted(item["id"] for item in body["results"])


def test_customer_lists_only_its_own_orders(three_orders, client_for):
    alice, bob, small, large, dog = three_orders

    assert ids_of(client_for(alice).get("/api/order/")) == sorted(
        [small["id"], large["id"]]
    )
    assert ids_of(client_for(bob).get("/api/order/")) == [dog["id"]]


def test_customer_reads_own_order_but_not_anothers(three_orders, client_for):
    alice, bob, small, large, dog = three_orders

    own = client_for(bob).get(f"/api/order/{dog['id']}/")
    other = client_for(bob).get(f"/api/order/{small['id']}/")

    assert own.status_code == 200
    assert own.json() == dog
    assert_error(other, 404, "not_found")


def test_operator_lists_and_filters_all_orders(three_orders, operator_client):
    alice, bob, small, large, dog = three_orders
    every = sorted([small["id"], large["id"], dog["id"]])

    def listed(**params):
        return ids_of(operator_client.get("/api/order/", params))

    assert listed() == every
    assert listed(customer=alice.pk) == sorted([small["id"], large["id"]])
    assert listed(customer=bob.pk) == [dog["id"]]
    assert listed(status="pending") == sorted([small["id"], dog["id"]])
    assert listed(status="submitted") == [large["id"]]
    assert listed(status="completed") == []
    assert listed(crypto="BTC") == [large["id"]]
    assert listed(crypto="doge") == [dog["id"]]
    assert listed(customer=alice.pk, status="pending") == [small["id"]]
    detail = operator_client.get(f"/api/order/{dog['id']}/")
    assert detail.status_code == 200
    assert detail.json() == dog


@pytest.mark.parametrize(
    "params",
    [{"status": "bogus"}, {"customer": "abc"}, {"customer": "-1"}],
    ids=repr,
)
def test_bad_order_filter_is_refused(operator_client, params):
    response = operator_client.get("/api/order/", params)

    error = assert_error(response, 400, "invalid")
    assert set(params) <= set(error["details"])


def test_unknown_order_is_not_found(operator_client):
    assert_error(operator_client.get("/api/order/999999/"), 404, "not_found")


# --- purchases ---------------------------------------------------------------


def test_operator_lists_purchases(three_orders, operator_client):
    alice, bob, small, large, dog = three_orders

    response = operator_client.get("/api/purchase/")

    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert len(results) == 1
    purchase = results[0]
    assert set(purchase) == PURCHASE_BODY
    assert purchase["id"] == large["purchase_id"]
    assert purchase["crypto"] == "BTC"
    assert Decimal(purchase["amount"]) == Decimal("0.001")
    assert purchase["total"] == "65.00"
    assert purchase["status"] == "queued"
    uuid.UUID(purchase["client_order_id"])
    assert purchase["attempts"] == 0
    assert purchase["order_ids"] == [large["id"]]
    assert_utc_iso(purchase["created_at"])
    assert purchase["completed_at"] is None
    detail = operator_client.get(f"/api/purchase/{purchase['id']}/")
    assert detail.status_code == 200
    assert detail.json() == purchase


def test_customer_cannot_see_purchases(three_orders, client_for):
    alice, bob, small, large, dog = three_orders

    assert_error(
        client_for(alice).get("/api/purchase/"), 403, "permission_denied"
    )
    assert_error(
        client_for(alice).get(f"/api/purchase/{large['purchase_id']}/"),
        403,
        "permission_denied",
    )


def test_anonymous_cannot_see_purchases(db):
    assert_error(APIClient().get("/api/purchase/"), 401, "not_authenticated")


# --- health and schema -------------------------------------------------------


def test_health_names_database_and_redis(db):
    response = APIClient().get("/api/health/")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "redis": "ok",
    }


def test_schema_describes_the_order_endpoint(db):
    response = APIClient().get("/api/schema/")

    assert response.status_code == 200
    assert b"/api/order/" in response.content
    assert b"openapi: 3" in response.content


def test_interactive_docs_are_served(db):
    response = APIClient().get("/api/docs/")

    assert response.status_code == 200
    assert b"swagger" in response.content.lower()
