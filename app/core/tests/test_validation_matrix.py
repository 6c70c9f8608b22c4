"""Every malformed input to the money endpoints is refused with ``400
invalid`` (``413`` for a body over the size limit) and writes nothing:
no balance moves, no order, ledger entry, purchase, customer or key
appears.

Bodies are sent as raw JSON text, so that what the parser sees is
exactly what a client could send (``NaN``, ``1e3``, huge integers).
"""

import json
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

# Amounts that are no amount, wherever one is expected: (JSON text, why).
NOT_AMOUNTS = [
    ('"NaN"', "NaN as a string"),
    ("NaN", "NaN as a JSON constant"),
    ('"Infinity"', "Infinity as a string"),
    ("Infinity", "Infinity as a JSON constant"),
    ('"-Infinity"', "minus Infinity"),
    ('"1e3"', "an exponent in a string"),
    ("1e3", "an exponent in a JSON number"),
    ('"1E-2"', "a negative exponent"),
    ("1e999", "an exponent beyond any float"),
    ('""', "an empty string"),
    ('"   "', "blanks"),
    ('"abc"', "letters"),
    ('"1,5"', "a decimal comma"),
    ('"0x10"', "hex"),
    ('"1_000"', "digit grouping"),
    ('"1 000"', "a space inside"),
    ('"\\u0661"', "an Arabic-Indic digit"),
    ('"\\uff11"', "a full-width digit"),
    ("true", "a boolean"),
    ("null", "null"),
    ("[]", "a list"),
    ('["1"]', "a list of an amount"),
    ('{"value": "1"}', "an object"),
    ('"' + "1" * 1001 + '"', "a thousand digits"),
    ("1" * 5000, "an integer of five thousand digits"),
    ("0", "zero"),
    ('"0.00"', "zero with cents"),
    ('"-1"', "negative"),
    ("-0.01", "a negative cent"),
]


# Refused by the JSON parser itself, before any field is looked at.
UNPARSABLE = {"NaN", "Infinity", "1" * 5000}


def assert_names(field, error, value):
    if value not in UNPARSABLE:
        assert field in error["details"], error


def amount_cases(extra):
    return [pytest.param(text, id=why) for text, why in [*NOT_AMOUNTS, *extra]]


def with_field(template, **fields):
    """A JSON object text: ``fields`` are raw JSON texts."""
    members = [
        f"{json.dumps(name)}: {value}" for name, value in fields.items()
    ]
    return "{" + ", ".join([*template, *members]) + "}"


@pytest.fixture
def alice(make_customer):
    return make_customer("alice", Decimal("100.00"))


@pytest.fixture
def alice_client(alice, client_for):
    return client_for(alice)


# --- POST /api/order/ ----------------------------------------------------

ORDER_AMOUNTS = [
    ('"0.00000000001"', "eleven decimal places"),
    ('"1.12345678901"', "too precise"),
    ('"123456789012345678901"', "twenty-one digits"),
    ("100000000000000000000000000000", "a huge JSON integer"),
    ('"12345678901.1234567890"', "twenty-one digits with a fraction"),
]


@pytest.mark.parametrize("amount", amount_cases(ORDER_AMOUNTS))
def test_order_amount_is_refused(alice_client, amount, assert_refused):
    body = with_field(['"crypto": "ABAN"'], amount=amount)

    error = assert_refused(alice_client, "/api/order/", body)

    assert_names("amount", error, amount)


@pytest.mark.parametrize(
    "crypto",
    [
        '""',
        '"   "',
        "123",
        "1.5",
        "true",
        "null",
        '["ABAN"]',
        '{"symbol": "ABAN"}',
        '"ABANABANABAN"',
        '"AB\\u0000AN"',
        '"\\ud800"',
        '"' + "A" * 5000 + '"',
    ],
)
def test_order_crypto_is_refused(alice_client, crypto, assert_refused):
    body = with_field(['"amount": "1"'], crypto=crypto)

    error = assert_refused(alice_client, "/api/order/", body)

    assert "crypto" in error["details"]


@pytest.mark.parametrize(
    "customer_id",
    [
        '"abc"',
        '""',
        "0",
        "-1",
        "1.5",
        "true",
        "[1]",
        '{"id": 1}',
        str(2**63),
        "1" * 5000,
    ],
)
def test_order_customer_id_is_refused(
    operator_client, alice, customer_id, assert_refused
):
    body = with_field(
        ['"crypto": "ABAN"', '"amount": "1"'], customer_id=customer_id
    )

    error = assert_refused(operator_client, "/api/order/", body)

    assert_names("customer_id", error, customer_id)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("price", '"0.01"'),
        ("total", '"0.01"'),
        ("status", '"completed"'),
        ("balance", '"1000000.00"'),
        ("purchase_id", "1"),
        ("id", "1"),
        ("created_at", '"2000-01-01T00:00:00Z"'),
        ("Amount", '"1"'),
        ("customer", "1"),
    ],
)
def test_order_refuses_fields_a_client_does_not_set(
    alice_client, field, value, assert_refused
):
    body = with_field(['"crypto": "ABAN"', '"amount": "1"'], **{field: value})

    error = assert_refused(alice_client, "/api/order/", body)

    assert field in error["details"]


@pytest.mark.parametrize(
    "body",
    [
        "{}",
        '{"crypto": "ABAN"}',
        '{"amount": "1"}',
        "[]",
        '[{"crypto": "ABAN", "amount": "1"}]',
        '"crypto=ABAN&amount=1"',
        "1",
        "null",
        '{"crypto": "ABAN", "amount": "1"',
        '{"crypto": "ABAN", "amount": "1"} {}',
        '{"crypto": "ABAN", "crypto": "BTC", "amount": "1",}',
    ],
)
def test_order_body_is_refused(alice_client, body, assert_refused):
    assert_refused(alice_client, "/api/order/", body)


# --- POST /api/customer/{id}/deposit/ ---------------------------------------

DEPOSIT_AMOUNTS = [
    ('"0.001"', "a tenth of a cent"),
    ('"1.001"', "cents and a fraction"),
    ("1.001", "a JSON number with a fraction of a cent"),
    ('"100000000.00"', "more than a balance may hold"),
    ("1000000000000000000000", "a huge JSON integer"),
]


@pytest.mark.parametrize("amount", amount_cases(DEPOSIT_AMOUNTS))
def test_deposit_amount_is_refused(
    operator_client, alice, amount, assert_refused
):
    path = f"/api/customer/{alice.pk}/deposit/"

    error = assert_refused(
        operator_client, path, with_field([], amount=amount)
    )

    assert_names("amount", error, amount)


@pytest.mark.parametrize(
    ("field", "value"),
    [("balance", '"1.00"'), ("note", '"gift"'), ("customer_id", "1")],
)
def test_deposit_refuses_unknown_fields(
    operator_client, alice, field, value, assert_refused
):
    path = f"/api/customer/{alice.pk}/deposit/"
    body = with_field(['"amount": "1.00"'], **{field: value})

    error = assert_refused(operator_client, path, body)

    assert field in error["details"]


@pytest.mark.parametrize("body", ["{}", "[]", '"1.00"', "1", "null"])
def test_deposit_body_is_refused(operator_client, alice, body, assert_refused):
    assert_refused(operator_client, f"/api/customer/{alice.pk}/deposit/", body)


# --- POST /api/customer/ -----------------------------------------------------

BALANCES = [
    ('"100.001"', "a fraction of a cent"),
    ('"100000000.00"', "more than a balance may hold"),
]


@pytest.mark.parametrize(
    "balance",
    [
        pytest.param(text, id=why)
        for text, why in [*NOT_AMOUNTS, *BALANCES]
        # Zero is a valid opening balance; null is refused below anyway.
        if text not in ("0", '"0.00"')
    ],
)
def test_customer_balance_is_refused(operator_client, balance, assert_refused):
    body = with_field(['"name": "bob"'], balance=balance)

    error = assert_refused(operator_client, "/api/customer/", body)

    assert_names("balance", error, balance)


@pytest.mark.parametrize(
    "name",
    [
        '""',
        '"   "',
        "123",
        "true",
        "null",
        '["bob"]',
        '{"first": "bob"}',
        '"' + "b" * 101 + '"',
        '"bo\\u0000b"',
        '"bo\\udfffb"',
    ],
)
def test_customer_name_is_refused(operator_client, name, assert_refused):
    body = with_field([], name=name)

    error = assert_refused(operator_client, "/api/customer/", body)

    assert "name" in error["details"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("api_key", '"ck_chosen-by-me"'),
        ("id", "1"),
        ("user", "1"),
        ("is_staff", "true"),
        ("balance_after", '"1.00"'),
    ],
)
def test_customer_refuses_unknown_fields(
    operator_client, field, value, assert_refused
):
    body = with_field(['"name": "bob"'], **{field: value})

    error = assert_refused(operator_client, "/api/customer/", body)

    assert field in error["details"]


@pytest.mark.parametrize("body", ["{}", "[]", '"bob"', "null"])
def test_customer_body_is_refused(operator_client, body, assert_refused):
    assert_refused(operator_client, "/api/customer/", body)


# --- size ------------------------------------------------------------------


@pytest.fixture
def oversized():
    """A JSON body just over DATA_UPLOAD_MAX_MEMORY_SIZE (64 KiB)."""
    return json.dumps(
        {"crypto": "ABAN", "amount": "1", "pad": "x" * (64 * 1024)}
    )


def test_oversized_order_is_refused_in_the_envelope(
    alice_client, oversized, assert_refused
):
    error = assert_refused(
        alice_client, "/api/order/", oversized, 413, "request_too_large"
    )

    assert error["details"] == {"max_bytes": 64 * 1024}


def test_oversized_bodies_are_refused_on_every_money_endpoint(
    operator_client, alice, oversized, assert_refused
):
    for path in (
        "/api/customer/",
        f"/api/customer/{alice.pk}/deposit/",
        "/api/order/",
    ):
        assert_refused(
            operator_client, path, oversized, 413, "request_too_large"
        )


def test_oversized_token_request_is_refused_in_the_envelope(
    db, oversized, assert_refused
):
    assert_refused(
        APIClient(), "/api/token/", oversized, 413, "request_too_large"
    )


def test_body_just_under_the_limit_is_read(alice_client):
    body = json.dumps({"crypto": "ABAN", "amount": "1"})
    body = body[:-1] + " " * (64 * 1024 - len(body)) + "}"
    assert len(body) == 64 * 1024

    response = alice_client.post(
        "/api/order/", body, content_type="application/json"
    )

    assert response.status_code == 201, response.content


def test_oversized_form_outside_the_api_is_json(db):
    client = APIClient()
    client.raise_request_exception = False

    response = client.post(
        "/admin/login/",
        "username=a&password=" + "x" * (64 * 1024),
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code in (400, 413)
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] in ("invalid", "request_too_large")
