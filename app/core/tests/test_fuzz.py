"""Property-based fuzzing of the running service from its own OpenAPI
schema (schemathesis): for every operation, valid and invalid requests
as a customer and as an operator, against granian with the real
database and Redis. No answer may be a 5xx, every answer must conform
to the schema (status, content type, headers, body), invalid data must
be refused, and the books must balance afterwards.

Bounded: a few examples per operation and mode, derandomized so that a
run is repeatable; the whole test takes well under a minute.
"""

from decimal import Decimal

import pytest
import requests
import schemathesis
from django.core.management import call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts import services as account_services
from core.testing.live import order_over_http

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES = 20
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Credentials are what these revoke: they have their own tests
# (accounts/tests/test_credentials.py); here they would only lock the
# fuzzer out mid-run.
NOT_FUZZED = {
    "DELETE /api/token/",
    "POST /api/customer/{id}/revoke-keys/",
    "POST /api/customer/{id}/rotate-key/",
}


def _known_ids(web, customer):
    """Ids that exist, so that detail operations are reached, not only
    answered 404."""
    order = order_over_http(web, customer, "ETH", "0.01")
    return {
        "/api/customer/": customer.pk,
        "/api/order/": order["id"],
        "/api/purchase/": order["purchase_id"],
    }


def _strategy(operation, mode, known_ids):
    strategy = operation.as_strategy(generation_mode=mode)
    if "{id}" not in operation.path:
        return strategy
    for prefix, known in known_ids.items():
        if operation.path.startswith(prefix):
            existing = operation.as_strategy(
                generation_mode=mode, path_parameters={"id": known}
            )
            return st.one_of(strategy, existing)
    return strategy


def _fuzz(operation, mode, *, known_ids, call):
    """Run one operation's examples in one mode through ``call``."""
    checks = list(CHECKS)
    # Writes refuse whatever their schema refuses. Reads are lenient by
    # design where it is harmless (DRF ignores a bad ``page_size``).
    if mode is GenerationMode.NEGATIVE and operation.method.upper() == "POST":
        checks.append(negative_data_rejection)

    @given(
        case=_strategy(operation, mode, known_ids),
        who=st.sampled_from(["customer", "operator"]),
    )
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case, who):
        case.validate_response(call(case, who), checks=checks)

    try:
        fuzz()
    except Unsatisfiable:
        # Nothing to get wrong: an operation without parameters or body
        # has no invalid requests.
        if mode is not GenerationMode.NEGATIVE:
            raise


def test_service_conforms_to_its_schema_under_fuzzing(
    live, operator, make_customer, assert_books_balance
):
    redis = live.redis()
    web = live.web(live.env(redis))
    alice = make_customer("alice", Decimal("5000.00"))
    known_ids = _known_ids(web, alice)
    schema = schemathesis.openapi.from_url(f"{web.url}/api/schema/")
    session = requests.Session()

    def call(case, who):
        # Fresh credentials for each request: the run must not depend on
        # what an earlier request did to them.
        if who == "operator":
            token = account_services.operator_token_issue(user=operator)
        else:
            token = account_services.customer_key_rotate(
                customer_id=alice.pk
            ).api_key
        return case.call(
            base_url=web.url,
            session=session,
            headers={"Authorization": f"Token {token}"},
            timeout=10,
        )

    fuzzed = set()
    for result in schema.get_all_operations():
        operation = result.ok()
        name = f"{operation.method.upper()} {operation.path}"
        if name in NOT_FUZZED:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(operation, mode, known_ids=known_ids, call=call)
        fuzzed.add(name)

    assert {
        "POST /api/order/",
        "POST /api/customer/",
        "POST /api/customer/{id}/deposit/",
        "GET /api/order/{id}/",
    } <= fuzzed
    assert_books_balance()
    call_command("audit_ledger")
