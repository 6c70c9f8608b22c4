"""Inputs from the second security probe that were a 500 or a wrong
answer: a total beyond any balance, deeply nested JSON, digits of other
scripts read as ids, and bodies sent in chunks. Each is now a 4xx in the
envelope (or read correctly), and writes nothing it should not."""

import base64
import json
import unicodedata
from decimal import Decimal
from urllib.parse import quote

import pytest
from rest_framework.test import APIClient

from core.parsers import MAX_JSON_DEPTH
from core.testing.live import http, raw_http
from orders.models import Order


@pytest.fixture
def alice(make_customer):
    return make_customer("alice", Decimal("99999999.99"))


def _order_for(client, customer, amount="1"):
    return client.post(
        "/api/order/",
        {"crypto": "ABAN", "amount": amount, "customer_id": customer.pk},
        format="json",
    )


# --- 5. a total no balance can hold ----------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "amount",
    [
        "9999999999.9999999999",  # ABAN at 4: a total of 4 * 10^10
        "25000000",  # just over the largest balance
        "2500000000",  # between the balance's and the ledger's columns
    ],
)
def test_an_order_beyond_any_balance_is_insufficient_funds(
    operator_client, alice, amount, assert_refused
):
    body = json.dumps(
        {"crypto": "ABAN", "amount": amount, "customer_id": alice.pk}
    )

    error = assert_refused(
        operator_client, "/api/order/", body, 400, "insufficient_funds"
    )

    assert Decimal(error["details"]["required"]) > Decimal("99999999.99")


@pytest.mark.django_db
def test_the_largest_order_a_full_balance_covers_is_placed(
    operator_client, alice
):
    response = _order_for(operator_client, alice, "24999999.99")

    assert response.status_code == 201, response.content
    assert response.json()["total"] == "99999999.96"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        '{"crypto": "ABAN", "amount": "1", "amount": "1000"}',
        '{"crypto": "ABAN", "crypto": "BTC", "amount": "1"}',
        '{"amount": "1", "crypto": "ABAN", "amount": "1"}',
    ],
)
def test_an_order_naming_a_field_twice_is_invalid(
    operator_client, alice, body, assert_refused
):
    """Which amount was meant is not the service's to guess (Python's
    parser would keep the last)."""
    body = body.replace("{", f'{{"customer_id": {alice.pk}, ', 1)

    error = assert_refused(operator_client, "/api/order/", body)

    assert "twice" in error["message"] + str(error["details"])


# --- 6. deeply nested JSON ---------------------------------------------------


def _nested(depth, inner='"x"'):
    return "[" * depth + inner + "]" * depth


NESTED = [
    pytest.param(_nested(10_000), id="ten thousand arrays"),
    pytest.param("{" + '"a":{' * 5000 + "}" * 5001, id="objects"),
    pytest.param(_nested(MAX_JSON_DEPTH + 1), id="just too deep"),
    pytest.param(
        '{"crypto": "ABAN", "amount": ' + _nested(3000, "1") + "}",
        id="deep in a field",
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize("body", NESTED)
def test_deeply_nested_json_is_invalid_on_the_money_endpoints(
    operator_client, alice, body, caplog, assert_refused
):
    for path in (
        "/api/order/",
        "/api/customer/",
        f"/api/customer/{alice.pk}/deposit/",
    ):
        assert_refused(operator_client, path, body)
    assert "Traceback" not in caplog.text


@pytest.mark.django_db
@pytest.mark.parametrize("body", NESTED)
def test_deeply_nested_json_is_invalid_without_credentials(
    body, caplog, assert_refused
):
    client = APIClient()

    assert_refused(client, "/api/token/", body)
    # An endpoint that asks for credentials refuses before it parses.
    assert_refused(client, "/api/order/", body, 401, "not_authenticated")
    assert "Traceback" not in caplog.text


@pytest.mark.django_db
def test_json_nested_as_deep_as_allowed_is_read(
    operator_client, alice, assert_refused
):
    """Nesting up to the limit is parsed, and refused as a value."""
    body = json.dumps(
        {
            "crypto": "ABAN",
            "amount": "1",
            "customer_id": alice.pk,
            "note": json.loads(_nested(MAX_JSON_DEPTH - 1)),
        }
    )

    error = assert_refused(operator_client, "/api/order/", body)

    assert error["details"] == {"note": ["Unknown field."]}


@pytest.mark.django_db
def test_brackets_inside_strings_do_not_count_as_nesting(
    operator_client, alice
):
    response = operator_client.post(
        "/api/customer/",
        json.dumps({"name": "[" * 60 + "{" * 40}),
        content_type="application/json",
    )

    assert response.status_code == 201, response.content


@pytest.mark.django_db
def test_an_unknown_charset_is_invalid(
    operator_client, alice, balances_and_row_counts
):
    operator_client.raise_request_exception = False
    before = balances_and_row_counts()

    response = operator_client.post(
        "/api/order/",
        json.dumps({"crypto": "ABAN", "amount": "1"}),
        content_type="application/json; charset=no-such-charset",
    )

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid"
    assert balances_and_row_counts() == before


# --- 7. only ASCII digits are integers -------------------------------------

OTHER_DIGITS = [
    pytest.param("\u0661", id="Arabic-Indic one"),
    pytest.param("\uff11", id="fullwidth one"),
    pytest.param("\u0967", id="Devanagari one"),
    pytest.param("\u00b9", id="superscript one"),
    pytest.param("\u00b2", id="superscript two"),
    pytest.param("\u2460", id="circled one"),
    pytest.param("1\u0660", id="one, Arabic-Indic zero"),
    pytest.param("1_0", id="digit grouping"),
    pytest.param(" 1", id="a blank before"),
    pytest.param("+1", id="a sign"),
    pytest.param("1.0", id="a fraction"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("digits", OTHER_DIGITS)
def test_a_filter_refuses_other_digits(operator_client, alice, digits):
    _order_for(operator_client, alice)
    operator_client.raise_request_exception = False

    response = operator_client.get(f"/api/order/?customer={quote(digits)}")

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert "customer" in error["details"]


def _written_in(script_of, number):
    """``number`` in the digits of the script of ``script_of``'s first
    character (a decimal digit of another script), or None."""
    char = script_of.strip()[:1]
    if not char or char.isascii() or not char.isdecimal():
        return None
    zero = ord(char) - unicodedata.decimal(char)
    return "".join(chr(zero + int(digit)) for digit in str(number))


@pytest.mark.django_db
@pytest.mark.parametrize("digits", OTHER_DIGITS)
def test_an_id_in_a_path_is_ascii_digits(
    operator_client, alice, digits, balances_and_row_counts
):
    order = _order_for(operator_client, alice, "3").json()
    paths = [
        f"/api/order/{quote(digits)}/",
        f"/api/customer/{quote(digits)}/",
        f"/api/customer/{quote(digits)}/ledger/",
        f"/api/customer/{quote(digits)}/deposit/",
        f"/api/purchase/{quote(digits)}/",
    ]
    # The ids that exist, written in another script's digits, which
    # int() would read as those ids.
    for path, number in (
        ("/api/order/{}/", order["id"]),
        ("/api/customer/{}/", alice.pk),
        ("/api/customer/{}/ledger/", alice.pk),
        ("/api/customer/{}/deposit/", alice.pk),
        ("/api/purchase/{}/", order["purchase_id"]),
    ):
        lookalike = _written_in(digits, number)
        if lookalike:
            paths.append(path.format(quote(lookalike)))
    operator_client.raise_request_exception = False
    before = balances_and_row_counts()

    for path in paths:
        method = "post" if path.endswith("deposit/") else "get"
        response = getattr(operator_client, method)(
            path, {"amount": "1"}, format="json"
        )
        assert response.status_code == 404, (path, response.content)
        assert response.json()["error"]["code"] == "not_found"
    assert balances_and_row_counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize("digits", OTHER_DIGITS)
def test_an_id_in_a_body_is_ascii_digits(
    operator_client, alice, digits, assert_refused
):
    body = json.dumps({"crypto": "ABAN", "amount": "1", "customer_id": digits})

    error = assert_refused(operator_client, "/api/order/", body)

    assert "customer_id" in error["details"]


@pytest.mark.django_db
def test_an_id_in_a_body_may_be_a_string_of_ascii_digits(
    operator_client, alice
):
    response = operator_client.post(
        "/api/order/",
        {"crypto": "ABAN", "amount": "1", "customer_id": str(alice.pk)},
        format="json",
    )

    assert response.status_code == 201, response.content


@pytest.mark.django_db
@pytest.mark.parametrize(
    "digits", ["\u0661", "\uff12", "1_0", "\u00b2", "0", "-1", "abc", ""]
)
def test_a_page_size_that_is_not_1_or_more_is_refused(
    operator_client, make_customer, digits
):
    make_customer("a")

    response = operator_client.get(f"/api/customer/?page_size={quote(digits)}")

    assert response.status_code == 400, response.content
    assert response.json()["error"]["details"] == {
        "page_size": ["A whole number from 1 to 200."]
    }


@pytest.mark.django_db
@pytest.mark.parametrize(("asked", "given"), [("1", 1), ("2", 2), ("999", 3)])
def test_a_page_size_of_1_or_more_is_a_page_of_at_most_200(
    operator_client, make_customer, asked, given
):
    for name in ("a", "b", "c"):
        make_customer(name)

    response = operator_client.get(f"/api/customer/?page_size={asked}")

    assert response.status_code == 200
    assert len(response.json()["results"]) == given


@pytest.mark.django_db
@pytest.mark.parametrize(
    "position", ["abc", "\u0661", "1.5", "99999999999999999999", "-1"]
)
def test_a_forged_cursor_is_a_bad_parameter(operator_client, alice, position):
    cursor = base64.b64encode(f"p={position}".encode()).decode()
    operator_client.raise_request_exception = False

    response = operator_client.get(f"/api/order/?cursor={quote(cursor)}")

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid"
    assert list(response.json()["error"]["details"]) == ["cursor"]


@pytest.mark.django_db
def test_a_cursor_that_is_not_one_is_a_bad_parameter(operator_client):
    response = operator_client.get("/api/order/?cursor=not-a-cursor")

    assert response.status_code == 400, response.content
    assert response.json()["error"]["details"] == {
        "cursor": [
            "Invalid cursor: use the `next` or `previous` link of a page."
        ]
    }


@pytest.mark.django_db
@pytest.mark.parametrize("symbol", ["\u00df", "\ufb01", "\uff21BAN"])
def test_a_crypto_filter_in_other_letters_is_invalid(operator_client, symbol):
    response = operator_client.get(f"/api/order/?crypto={quote(symbol)}")

    assert response.status_code == 400, response.content
    assert "crypto" in response.json()["error"]["details"]


# --- 8. a body sent with Transfer-Encoding: chunked -------------------------


def _chunked(port, path, body, token, chunk=7):
    """POST ``body`` in chunks of ``chunk`` bytes over a raw socket;
    returns (status, parsed JSON body)."""
    head = (
        f"POST {path} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        "Content-Type: application/json\r\n"
        "Accept: application/json\r\n"
        f"Authorization: Token {token}\r\n"
        "Transfer-Encoding: chunked\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    parts = [body[i : i + chunk] for i in range(0, len(body), chunk)]
    payload = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts)
    status, _, answer = raw_http(
        port, head + payload + b"0\r\n\r\n", timeout=30
    )
    return status, json.loads(answer) if answer else None


def test_a_chunked_order_is_read(live, make_customer):
    web = live.web(live.env(live.redis()))
    alice = make_customer("alice")
    port = int(web.url.rsplit(":", 1)[1])
    body = json.dumps({"crypto": "ABAN", "amount": "1.5"}).encode()

    status, answer = _chunked(port, "/api/order/", body, alice.api_key)

    assert status == 201, answer
    assert answer["amount"] == "1.5000000000"
    assert Order.objects.filter(customer=alice).count() == 1


def test_a_chunked_body_over_the_limit_is_413(live, make_customer):
    web = live.web(live.env(live.redis()))
    alice = make_customer("alice")
    port = int(web.url.rsplit(":", 1)[1])
    body = json.dumps(
        {"crypto": "ABAN", "amount": "1", "pad": "x" * (64 * 1024)}
    ).encode()

    status, answer = _chunked(
        port, "/api/order/", body, alice.api_key, chunk=4096
    )

    assert status == 413, answer
    assert answer["error"]["code"] == "request_too_large"
    assert not Order.objects.filter(customer=alice).exists()
    # The server still answers.
    assert http("GET", f"{web.url}/api/health/")[0] == 200


# --- found by probing again --------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body, field",
    [
        ({"username": 123, "password": "s3cret-pass"}, "username"),
        ({"username": "operator", "password": 12345678}, "password"),
        ({"username": ["operator"], "password": "s3cret-pass"}, "username"),
    ],
)
def test_a_login_field_that_is_not_a_string_is_invalid(
    operator, assert_refused, body, field
):
    """A number is not a name or a password: 400 naming the field, as
    everywhere else, not the 401 of a wrong password."""
    error = assert_refused(APIClient(), "/api/token/", json.dumps(body))

    assert list(error["details"]) == [field]


@pytest.mark.django_db
def test_a_login_name_with_a_lone_surrogate_is_invalid(assert_refused):
    """The login limit hashed the name as UTF-8, which a lone surrogate
    (valid JSON: "\\ud800") is not: a 500 before the serializer could
    refuse it."""
    body = json.dumps({"username": "\ud800operator", "password": "x"})

    error = assert_refused(APIClient(), "/api/token/", body)

    assert "username" in error["details"]


CONTROL = "Must not contain control characters."
NOT_ASCII = "Must be ASCII characters only."


@pytest.mark.django_db
@pytest.mark.parametrize(
    "key, message",
    [
        # PostgreSQL cannot store a NUL: it was a 500.
        ("a\x00b", CONTROL),
        ("tab\there", CONTROL),
        ("bell\x07", CONTROL),
        ("\x7f", CONTROL),
        # A header has no encoding: the same key would not arrive the
        # same through every client, so a replay could miss its answer.
        ("clé", NOT_ASCII),
        ("ключ", NOT_ASCII),
        ("\u00a0key", NOT_ASCII),
    ],
)
def test_an_idempotency_key_it_cannot_keep_is_invalid_and_says_why(
    operator_client, alice, key, message, balances_and_row_counts
):
    operator_client.raise_request_exception = False
    before = balances_and_row_counts()

    response = operator_client.post(
        "/api/order/",
        {"crypto": "ABAN", "amount": "1", "customer_id": alice.pk},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )

    assert response.status_code == 400, response.content
    details = response.json()["error"]["details"]
    assert details == {"Idempotency-Key": [message]}
    assert balances_and_row_counts() == before


@pytest.mark.parametrize("key", ["clé".encode(), "ключ".encode(), b"\xff\xfe"])
def test_a_non_ascii_key_through_the_real_server_is_refused(
    live, make_customer, key
):
    """The production server hands such a header on as it likes (empty,
    here): whatever arrives, the order is refused, naming the header,
    and nothing is placed."""
    web = live.web(live.env(live.redis()))
    alice = make_customer("alice")
    port = int(web.url.rsplit(":", 1)[1])
    body = json.dumps({"crypto": "ABAN", "amount": "1"}).encode()
    request = (
        b"POST /api/order/ HTTP/1.1\r\n"
        + f"Host: 127.0.0.1:{port}\r\n".encode()
        + b"Content-Type: application/json\r\nAccept: application/json\r\n"
        + f"Authorization: Token {alice.api_key}\r\n".encode()
        + b"Idempotency-Key: "
        + key
        + f"\r\nContent-Length: {len(body)}\r\n".encode()
        + b"Connection: close\r\n\r\n"
        + body
    )

    status, _, answer = raw_http(port, request)

    assert status == 400, answer
    details = json.loads(answer)["error"]["details"]
    assert "ASCII" in details["Idempotency-Key"][0]
    assert not Order.objects.filter(customer=alice).exists()
