"""Who may do what: every endpoint and method of docs/api.md, plus key
rotation and revocation, the admin and the RQ dashboard, against every
kind of caller. One table; each cell is a test asserting the status and
the error code.

The callers: nobody (``anon``), a made-up token (``bad``), a customer on
its own resources (``self``), the same customer naming another's
(``other``), an operator with a token (``op``), and an operator's browser
session without a CSRF token (``session``, as a forged cross-site
request would arrive).
"""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from orders import services as order_services

pytestmark = pytest.mark.django_db

CALLERS = ("anon", "bad", "self", "other", "op", "session")

# Expected answers: a status alone for a success, (status, code) for an
# error in the envelope, LOGIN for the admin's redirect to its login.
OK, CREATED, GONE = 200, 201, 204
UNAUTH = (401, "not_authenticated")
DENIED = (403, "permission_denied")
NOT_FOUND = (404, "not_found")
NOT_ALLOWED = (405, "method_not_allowed")
NOT_CANCELLABLE = (409, "order_not_cancellable")
CSRF = DENIED
LOGIN = "login"

OPERATOR = {"username": "operator", "password": "s3cret-pass"}
ORDER = {"crypto": "ABAN", "amount": "1", "customer_id": "{customer}"}

# (method, path, body, answers for anon, bad, self, other, op, session)
TABLE = [
    # Public.
    ("get", "/api/crypto/", None, (OK, UNAUTH, OK, OK, OK, OK)),
    ("get", "/api/health/", None, (OK, OK, OK, OK, OK, OK)),
    ("get", "/api/schema/", None, (OK, OK, OK, OK, OK, OK)),
    ("get", "/api/docs/", None, (OK, OK, OK, OK, OK, OK)),
    (
        "put",
        "/api/crypto/",
        {},
        (NOT_ALLOWED, UNAUTH, NOT_ALLOWED, NOT_ALLOWED, NOT_ALLOWED, CSRF),
    ),
    # Tokens: anyone may trade a password; a token revokes itself.
    ("post", "/api/token/", OPERATOR, (OK, UNAUTH, OK, OK, OK, CSRF)),
    ("delete", "/api/token/", None, (UNAUTH, UNAUTH, GONE, GONE, GONE, CSRF)),
    (
        "get",
        "/api/token/",
        None,
        (NOT_ALLOWED, UNAUTH, *[NOT_ALLOWED] * 4),
    ),
    # Customers: operators create and fund; a customer sees itself.
    (
        "post",
        "/api/customer/",
        {"name": "mallory"},
        (UNAUTH, UNAUTH, DENIED, DENIED, CREATED, CSRF),
    ),
    ("get", "/api/customer/", None, (UNAUTH, UNAUTH, OK, OK, OK, OK)),
    (
        "get",
        "/api/customer/{customer}/",
        None,
        (UNAUTH, UNAUTH, OK, NOT_FOUND, OK, OK),
    ),
    (
        "patch",
        "/api/customer/{customer}/",
        {"balance": "1000000.00"},
        (UNAUTH, UNAUTH, NOT_ALLOWED, NOT_ALLOWED, NOT_ALLOWED, CSRF),
    ),
    (
        "delete",
        "/api/customer/{customer}/",
        None,
        (UNAUTH, UNAUTH, NOT_ALLOWED, NOT_ALLOWED, NOT_ALLOWED, CSRF),
    ),
    (
        "post",
        "/api/customer/{customer}/deposit/",
        {"amount": "1.00"},
        (UNAUTH, UNAUTH, DENIED, DENIED, OK, CSRF),
    ),
    # The deposit form's page is for a person in the browsable API; a
    # JSON client still gets 405 (a customer, 403: not its action).
    (
        "get",
        "/api/customer/{customer}/deposit/",
        None,
        (UNAUTH, UNAUTH, DENIED, DENIED, NOT_ALLOWED, NOT_ALLOWED),
    ),
    (
        "get",
        "/api/customer/{customer}/ledger/",
        None,
        (UNAUTH, UNAUTH, OK, NOT_FOUND, OK, OK),
    ),
    (
        "post",
        "/api/customer/{customer}/rotate-key/",
        None,
        (UNAUTH, UNAUTH, DENIED, DENIED, OK, CSRF),
    ),
    (
        "post",
        "/api/customer/{customer}/revoke-keys/",
        None,
        (UNAUTH, UNAUTH, DENIED, DENIED, OK, CSRF),
    ),
    # Orders: a customer orders for itself and reads its own.
    (
        "post",
        "/api/order/",
        ORDER,
        (UNAUTH, UNAUTH, CREATED, DENIED, CREATED, CSRF),
    ),
    ("get", "/api/order/", None, (UNAUTH, UNAUTH, OK, OK, OK, OK)),
    (
        "get",
        "/api/order/{order}/",
        None,
        (UNAUTH, UNAUTH, OK, NOT_FOUND, OK, OK),
    ),
    (
        "patch",
        "/api/order/{order}/",
        {"status": "completed"},
        (UNAUTH, UNAUTH, NOT_ALLOWED, NOT_ALLOWED, NOT_ALLOWED, CSRF),
    ),
    (
        "delete",
        "/api/order/{order}/",
        None,
        (UNAUTH, UNAUTH, NOT_ALLOWED, NOT_ALLOWED, NOT_ALLOWED, CSRF),
    ),
    # Cancel: a customer its own pending order; never one in a purchase.
    (
        "post",
        "/api/order/{pending}/cancel/",
        None,
        (UNAUTH, UNAUTH, OK, NOT_FOUND, OK, CSRF),
    ),
    (
        "post",
        "/api/order/{order}/cancel/",
        None,
        (UNAUTH, UNAUTH, NOT_CANCELLABLE, NOT_FOUND, NOT_CANCELLABLE, CSRF),
    ),
    (
        "get",
        "/api/order/{pending}/cancel/",
        None,
        (UNAUTH, UNAUTH, *[NOT_ALLOWED] * 4),
    ),
    (
        "get",
        "/api/customer/{customer}/holdings/",
        None,
        (UNAUTH, UNAUTH, OK, NOT_FOUND, OK, OK),
    ),
    # The house and the audit trails: operators only.
    ("get", "/api/house/", None, (UNAUTH, UNAUTH, DENIED, DENIED, OK, OK)),
    (
        "post",
        "/api/house/deposit/",
        {"amount": "1.00"},
        (UNAUTH, UNAUTH, DENIED, DENIED, OK, CSRF),
    ),
    (
        "get",
        "/api/house/ledger/",
        None,
        (UNAUTH, UNAUTH, DENIED, DENIED, OK, OK),
    ),
    ("get", "/api/ledger/", None, (UNAUTH, UNAUTH, DENIED, DENIED, OK, OK)),
    (
        "get",
        "/api/credential-events/",
        None,
        (UNAUTH, UNAUTH, DENIED, DENIED, OK, OK),
    ),
    # Purchases: operators only.
    ("get", "/api/purchase/", None, (UNAUTH, UNAUTH, DENIED, DENIED, OK, OK)),
    (
        "get",
        "/api/purchase/{purchase}/",
        None,
        (UNAUTH, UNAUTH, DENIED, DENIED, OK, OK),
    ),
    # The admin and the RQ dashboard: staff in a browser session only.
    ("get", "/admin/", None, (*[LOGIN] * 5, OK)),
    ("get", "/admin/django-rq/", None, (*[LOGIN] * 5, OK)),
    ("get", "/admin/django-rq/queues/0/", None, (*[LOGIN] * 5, OK)),
    ("get", "/admin/django-rq/workers/0/", None, (*[LOGIN] * 5, OK)),
]

CELLS = [
    pytest.param(
        method, path, body, caller, answer, id=f"{method} {path} {caller}"
    )
    for method, path, body, answers in TABLE
    for caller, answer in zip(CALLERS, answers, strict=True)
]


@pytest.fixture
def world(operator, make_customer):
    """Alice and Bob, each with an order bought in its own purchase and
    one pending in the ABAN pool."""
    people = {}
    for name in ("alice", "bob"):
        customer = make_customer(name, Decimal("100.00"))
        order = order_services.order_place(
            customer_id=customer.pk, symbol="ETH", amount=Decimal("0.01")
        )
        assert order.purchase_id is not None
        pending = order_services.order_place(
            customer_id=customer.pk, symbol="ABAN", amount=Decimal("0.5")
        )
        assert pending.status == "pending"
        people[name] = {
            "customer": customer,
            "ids": {
                "customer": customer.pk,
                "order": order.pk,
                "pending": pending.pk,
                "purchase": order.purchase_id,
            },
        }
    return people


def client_as(caller, world, operator):
    """The client of a caller, and whose ids it names."""
    alice = world["alice"]
    client = APIClient(enforce_csrf_checks=True)
    if caller == "bad":
        client.credentials(HTTP_AUTHORIZATION="Token ck_not-a-real-key")
    elif caller in ("self", "other"):
        key = alice["customer"].api_key
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    elif caller == "op":
        client.credentials(HTTP_AUTHORIZATION=f"Token {operator.api_token}")
    elif caller == "session":
        client.force_login(operator)
    named = world["bob"] if caller == "other" else alice
    return client, named["ids"]


def _fill(value, ids):
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {name: _fill(item, ids) for name, item in value.items()}
    return value


def assert_answer(response, answer):
    if answer == LOGIN:
        assert response.status_code == 302, response.content
        assert response["Location"].startswith("/admin/login/")
        return
    if isinstance(answer, int):
        assert response.status_code == answer, response.content
        return
    status, code = answer
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert isinstance(error["details"], dict)


@pytest.mark.parametrize(("method", "path", "body", "caller", "answer"), CELLS)
def test_authorization(world, operator, method, path, body, caller, answer):
    client, ids = client_as(caller, world, operator)
    kwargs = {} if body is None else {"data": _fill(body, ids)}

    response = getattr(client, method)(
        _fill(path, ids), format="json", **kwargs
    )

    assert_answer(response, answer)


# --- CSRF ------------------------------------------------------------------


def test_session_write_needs_the_csrf_token(operator, make_customer):
    """A browser session (the browsable API) is a cookie any site could
    make the browser send: its writes need the CSRF token; a token or
    key in a header needs none, as no browser sends it on its own."""
    alice = make_customer("alice")
    browser = APIClient(enforce_csrf_checks=True)
    assert browser.login(**OPERATOR)
    deposit = f"/api/customer/{alice.pk}/deposit/"

    forged = browser.post(deposit, {"amount": "5.00"}, format="json")

    assert_answer(forged, CSRF)
    assert "CSRF" in forged.json()["error"]["message"]
    alice.refresh_from_db()
    assert alice.balance == Decimal("100.00")

    page = browser.get("/api/customer/", HTTP_ACCEPT="text/html")
    assert page.status_code == 200
    token = browser.cookies["csrftoken"].value

    genuine = browser.post(
        deposit, {"amount": "5.00"}, format="json", HTTP_X_CSRFTOKEN=token
    )

    assert genuine.status_code == 200, genuine.content
    assert genuine.json()["balance"] == "105.00"


def test_customers_cannot_log_in_to_a_session(make_customer):
    alice = make_customer("alice")
    user = alice.user

    assert not user.has_usable_password()
    assert not user.is_staff
    assert not APIClient().login(username=user.username, password="")


@pytest.mark.parametrize("path", ["/admin/login/", "/api-auth/login/"])
def test_forged_login_form_is_refused_in_the_envelope(db, path):
    browser = APIClient(enforce_csrf_checks=True)

    response = browser.post(
        path,
        "username=operator&password=s3cret-pass",
        content_type="application/x-www-form-urlencoded",
    )

    assert_answer(response, CSRF)
    assert "_auth_user_id" not in browser.session
