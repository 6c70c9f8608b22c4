"""A client generated from the service's OpenAPI schema, as a client's
developer would make one (openapi-python-client): the generator gives no
warning, every field the service always sends is typed as always there
(not ``Unset``), and the generated models read the service's real
answers."""

import importlib
import json
import subprocess
import sys
from decimal import Decimal

import attrs
import pytest

from core.testing.live import APP_DIR


@pytest.fixture(scope="module")
def client_package(tmp_path_factory):
    """The generated package, imported; generation must be silent."""
    work = tmp_path_factory.mktemp("client")
    schema = work / "openapi.json"
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "spectacular",
            "--format",
            "openapi-json",
            "--file",
            str(schema),
        ],
        cwd=APP_DIR,
        check=True,
        capture_output=True,
        timeout=120,
    )
    config = work / "config.json"
    # No formatting hooks (ruff on the generated code): only the
    # generator's own judgement of the schema is tested.
    config.write_text(
        json.dumps(
            {"package_name_override": "crypto_client", "post_hooks": []}
        )
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(schema),
            "--config",
            str(config),
            "--meta",
            "none",
            "--output-path",
            str(work / "crypto_client"),
            "--fail-on-warning",
        ],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Warning" not in output and "Error" not in output, output
    sys.path.insert(0, str(work))
    try:
        yield importlib.import_module("crypto_client.models")
    finally:
        sys.path.remove(str(work))
        for name in list(sys.modules):
            if name == "crypto_client" or name.startswith("crypto_client."):
                del sys.modules[name]


# The models of answers: every one of their fields is always sent.
ANSWERS = [
    "Crypto",
    "Customer",
    "CustomerCreated",
    "LedgerEntry",
    "Order",
    "PoolProgress",
    "Purchase",
    "House",
    "Holding",
    "HouseLedgerEntry",
    "AuditedLedgerEntry",
    "CredentialEvent",
    "Actor",
    "PaginatedOrderList",
    "PaginatedCustomerList",
    "ErrorEnvelope",
    "ErrorBody",
    "Health",
    "Token",
]


@pytest.mark.parametrize("name", ANSWERS)
def test_no_field_of_an_answer_is_typed_as_maybe_absent(client_package, name):
    model = getattr(client_package, name)

    # The annotations as written (``Unset | str`` for a field that may be
    # absent); evaluating them would need the models' forward references.
    maybe_absent = [
        field.name
        for field in attrs.fields(model)
        if "Unset" in str(field.type)
    ]
    assert maybe_absent == [], f"{name}: {maybe_absent}"


@pytest.mark.django_db
def test_the_generated_models_read_the_services_answers(
    client_package, operator_client
):
    models = client_package
    created = operator_client.post(
        "/api/customer/", {"name": "farbod"}, format="json"
    ).json()
    customer = models.CustomerCreated.from_dict(created)
    assert Decimal(customer.balance) == Decimal("100.00")
    assert customer.api_key.startswith("ck_")

    placed = operator_client.post(
        "/api/order/",
        {"crypto": "ABAN", "amount": "1.5", "customer_id": customer.id},
        format="json",
    ).json()
    order = models.Order.from_dict(placed)
    assert (order.status.value, order.total) == ("pending", "6.00")
    assert order.pool.pending_total == "6.00"

    orders = models.PaginatedOrderList.from_dict(
        operator_client.get("/api/order/").json()
    )
    assert [item.id for item in orders.results] == [order.id]
    assert orders.next_ is None

    ledger = models.PaginatedLedgerEntryList.from_dict(
        operator_client.get(f"/api/customer/{customer.id}/ledger/").json()
    )
    assert [entry.kind.value for entry in ledger.results] == [
        "order",
        "deposit",
    ]
    cancelled = models.Order.from_dict(
        operator_client.post(f"/api/order/{order.id}/cancel/").json()
    )
    assert (cancelled.status.value, cancelled.pool) == ("cancelled", None)

    refused = models.ErrorEnvelope.from_dict(
        operator_client.post(
            "/api/order/",
            {"crypto": "XRP", "amount": "1", "customer_id": customer.id},
            format="json",
        ).json()
    )
    assert refused.error.code.value == "unknown_crypto"
