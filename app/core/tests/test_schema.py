"""The OpenAPI schema: valid, without warnings, and describing every
endpoint, field and error response of docs/api.md, with examples."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from core.testing.contract import (
    CUSTOMER_FIELDS,
    LEDGER_ENTRY_FIELDS,
    ORDER_FIELDS,
    PURCHASE_FIELDS,
)

APP_DIR = Path(__file__).resolve().parents[2]

# (method, path, success status, docs/api.md's fields of the success body).
CONTRACT = [
    ("get", "/api/crypto/", "200", {"symbol", "name", "price"}),
    ("post", "/api/customer/", "201", CUSTOMER_FIELDS | {"api_key"}),
    ("get", "/api/customer/", "200", CUSTOMER_FIELDS),
    ("get", "/api/customer/{id}/", "200", CUSTOMER_FIELDS),
    ("post", "/api/customer/{id}/deposit/", "200", CUSTOMER_FIELDS),
    ("get", "/api/customer/{id}/ledger/", "200", LEDGER_ENTRY_FIELDS),
    ("post", "/api/order/", "201", ORDER_FIELDS),
    ("get", "/api/order/", "200", ORDER_FIELDS),
    ("get", "/api/order/{id}/", "200", ORDER_FIELDS),
    ("get", "/api/purchase/", "200", PURCHASE_FIELDS),
    ("get", "/api/purchase/{id}/", "200", PURCHASE_FIELDS),
    ("get", "/api/health/", "200", {"status", "database", "redis"}),
    ("post", "/api/token/", "200", {"token"}),
]
# /api/schema/ and /api/docs/ serve this schema; they are not in it.

ERROR_CODES = {
    "invalid",
    "insufficient_funds",
    "unknown_crypto",
    "not_authenticated",
    "permission_denied",
    "not_found",
    "idempotency_key_in_use",
    "unsupported_media_type",
    "idempotency_key_reused",
    "throttled",
    "unavailable",
    "server_error",
}
ERROR_STATUSES = {
    "400": {"invalid", "insufficient_funds", "unknown_crypto"},
    "401": {"not_authenticated"},
    "403": {"permission_denied"},
    "404": {"not_found"},
    "409": {"idempotency_key_in_use"},
    "413": {"request_too_large"},
    "415": {"unsupported_media_type"},
    "422": {"idempotency_key_reused"},
    "429": {"throttled"},
    "500": {"server_error"},
    "503": {"unavailable"},
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """``manage.py spectacular --validate --fail-on-warn``, as CI would
    run it: its exit code, its output, and the schema it wrote."""
    path = tmp_path_factory.mktemp("schema") / "openapi.json"
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "spectacular",
            "--validate",
            "--fail-on-warn",
            "--format",
            "openapi-json",
            "--file",
            str(path),
        ],
        cwd=APP_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    schema = json.loads(path.read_text()) if path.exists() else None
    return result, schema


@pytest.fixture(scope="module")
def schema(generated):
    result, schema = generated
    assert result.returncode == 0, result.stdout + result.stderr
    return schema


def _resolve(schema, node):
    while "$ref" in node or "allOf" in node:
        if "allOf" in node:
            node = node["allOf"][0]
        name = node["$ref"].split("/")[-1]
        node = schema["components"]["schemas"][name]
    return node


def _body_fields(schema, response):
    body = _resolve(schema, response["content"]["application/json"]["schema"])
    if body.get("type") == "array":
        body = _resolve(schema, body["items"])
    if "results" in body.get("properties", {}):  # a paginated list
        body = _resolve(schema, body["properties"]["results"]["items"])
    return set(body["properties"])


def test_schema_validates_without_warnings(generated):
    result, schema = generated

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stderr, result.stderr
    assert schema["openapi"].startswith("3.")


@pytest.mark.parametrize(
    ("method", "path", "success", "fields"),
    CONTRACT,
    ids=[f"{method} {path}" for method, path, _, _ in CONTRACT],
)
def test_every_contract_endpoint_is_described_with_examples(
    schema, method, path, success, fields
):
    operation = schema["paths"][path][method]
    response = operation["responses"][success]

    assert operation.get("summary"), "a summary for the docs' index"
    assert fields <= _body_fields(schema, response)
    assert response["content"]["application/json"].get("examples")
    if method == "post":
        request = operation["requestBody"]["content"]
        # JSON only: a form is refused with 415 outside the browser.
        assert set(request) == {"application/json"}
        assert request["application/json"].get("examples")


@pytest.mark.parametrize(
    ("method", "path", "success", "fields"),
    CONTRACT,
    ids=[f"{method} {path}" for method, path, _, _ in CONTRACT],
)
def test_every_error_response_is_the_envelope_with_examples(
    schema, method, path, success, fields
):
    operation = schema["paths"][path][method]
    errors = {
        status: response
        for status, response in operation["responses"].items()
        if status >= "400" and not (path == "/api/health/" and status == "503")
    }

    assert errors, "no error response documented"
    for status, response in errors.items():
        content = response["content"]["application/json"]
        assert content["schema"] == {
            "$ref": "#/components/schemas/ErrorEnvelope"
        }, status
        codes = {
            example["value"]["error"]["code"]
            for example in content["examples"].values()
        }
        assert codes and codes <= ERROR_STATUSES[status], (status, codes)


def test_order_placement_documents_each_refusal_of_the_contract(schema):
    responses = schema["paths"]["/api/order/"]["post"]["responses"]

    assert set(ERROR_STATUSES) - {"500", "413"} <= set(responses)
    examples = responses["400"]["content"]["application/json"]["examples"]
    assert {
        example["value"]["error"]["code"] for example in examples.values()
    } == ERROR_STATUSES["400"]


def test_error_envelope_lists_every_contract_code(schema):
    envelope = schema["components"]["schemas"]["ErrorEnvelope"]
    body = _resolve(schema, envelope["properties"]["error"])
    code = _resolve(schema, body["properties"]["code"])

    assert envelope["required"] == ["error"]
    assert set(body["required"]) == {"code", "message", "details"}
    assert ERROR_CODES <= set(code["enum"])


def test_token_authentication_is_described(schema):
    schemes = schema["components"]["securitySchemes"]

    assert schemes["tokenAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": schemes["tokenAuth"]["description"],
    }
    order = schema["paths"]["/api/order/"]["post"]
    assert {"tokenAuth": []} in order["security"]


def test_idempotent_posts_describe_the_key_and_the_replay(schema):
    for path in (
        "/api/customer/",
        "/api/customer/{id}/deposit/",
        "/api/order/",
    ):
        operation = schema["paths"][path]["post"]
        headers = {
            parameter["name"]
            for parameter in operation["parameters"]
            if parameter["in"] == "header"
        }
        success = min(
            status for status in operation["responses"] if status < "300"
        )

        assert "Idempotency-Key" in headers, path
        assert "Idempotent-Replayed" in (
            operation["responses"][success]["headers"]
        ), path
        assert "Retry-After" in operation["responses"]["429"]["headers"]


def _texts(node, path=""):
    """Every (where, text) of a description or summary in the schema."""
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}/{key}"
            if key in ("description", "summary") and isinstance(value, str):
                yield where, value
            else:
                yield from _texts(value, where)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _texts(value, f"{path}/{index}")


# Words of notes for developers, not for the API's readers.
IMPLEMENTATION_WORDS = re.compile(
    r"``|\b(serializers?|DRF|mixin|deep-cop\w*|hot path|instances?|"
    r"queryset|subclass\w*|docstrings?|bench\w*|CPU|µs|Python|Django|"
    r"ModelSerializer|per class|thread\w*|selectors?|round trips?)\b",
    re.IGNORECASE,
)


def _docstrings():
    """The docstrings of the service's serializers and views."""
    import inspect

    from accounts import api as accounts_api
    from accounts import serializers as accounts_serializers
    from core import api as core_api
    from core import serializers as core_serializers
    from orders import api as orders_api
    from orders import serializers as orders_serializers

    found = set()
    for module in (
        accounts_api,
        accounts_serializers,
        core_api,
        core_serializers,
        orders_api,
        orders_serializers,
    ):
        for _, member in inspect.getmembers(module, inspect.isclass):
            if member.__module__ == module.__name__ and member.__doc__:
                found.add(inspect.cleandoc(member.__doc__))
    return found


def test_no_description_is_a_note_for_developers(schema):
    texts = list(_texts(schema))
    docstrings = _docstrings()

    assert texts
    leaks = [
        (where, text)
        for where, text in texts
        if IMPLEMENTATION_WORDS.search(text)
        or any(doc in text for doc in docstrings)
    ]
    assert leaks == []


def test_the_main_components_describe_themselves_for_clients(schema):
    components = schema["components"]["schemas"]

    for name in (
        "OrderCreateRequest",
        "Order",
        "Customer",
        "CustomerCreated",
        "LedgerEntry",
        "Purchase",
    ):
        description = components[name].get("description", "")
        assert description, name
        assert not IMPLEMENTATION_WORDS.search(description), name


def _answer_components(schema):
    """The names of every component that an answer's body uses."""
    components = schema["components"]["schemas"]
    seen, todo = set(), []
    for operations in schema["paths"].values():
        for operation in operations.values():
            for response in operation.get("responses", {}).values():
                for media in response.get("content", {}).values():
                    todo.append(media.get("schema", {}))
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if ref:
                name = ref.split("/")[-1]
                if name not in seen:
                    seen.add(name)
                    todo.append(components[name])
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    return {name for name in seen if "properties" in components[name]}


def test_every_field_of_an_answer_is_required(schema):
    components = schema["components"]["schemas"]
    answers = _answer_components(schema)

    assert {"Order", "CustomerCreated", "PaginatedOrderList"} <= answers
    optional = {
        name: sorted(
            set(components[name]["properties"])
            - set(components[name].get("required", []))
        )
        for name in answers
    }
    assert {name: fields for name, fields in optional.items() if fields} == {}


def test_pages_refuse_a_bad_cursor_or_page_size_as_documented(schema):
    for path, operations in schema["paths"].items():
        operation = operations.get("get", {})
        names = {
            parameter["name"] for parameter in operation.get("parameters", [])
        }
        if "cursor" not in names:
            continue
        page_size = next(
            parameter
            for parameter in operation["parameters"]
            if parameter["name"] == "page_size"
        )
        assert page_size["schema"]["minimum"] == 1, path
        assert "400" in operation["responses"], path


def test_every_operation_has_a_summary_and_its_refusals(schema):
    # The ping endpoint is the benchmark's ceiling: no database, no
    # authentication, nothing to refuse.
    undescribed = [
        (method, path)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if path != "/api/ping/"
        and not (
            operation.get("summary")
            and any(status >= "400" for status in operation["responses"])
        )
    ]

    assert undescribed == []
