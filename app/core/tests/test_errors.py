"""Every error answers the JSON envelope of docs/api.md, whatever layer
raises it: parsers, authentication, routing, the views, or a bug."""

import re
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from core.testing.envelope import assert_error
from orders import services as order_services
from orders.models import Order

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "body", ['{"crypto": "ABAN", "amount": ', "not json", "{'a': 1}", ""]
)
def test_malformed_json_is_invalid(
    make_customer, client_for, body, balances_and_row_counts
):
    alice = make_customer("alice")
    before = balances_and_row_counts()

    response = client_for(alice).post(
        "/api/order/", body, content_type="application/json"
    )

    assert_error(response, 400, "invalid")
    assert balances_and_row_counts() == before


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("crypto=ABAN&amount=1", "application/x-www-form-urlencoded"),
        (None, "multipart"),
        ("crypto: ABAN", "text/plain"),
    ],
)
def test_api_client_sending_a_non_json_body_is_refused(
    make_customer, client_for, body, content_type, balances_and_row_counts
):
    alice = make_customer("alice")
    before = balances_and_row_counts()
    client = client_for(alice)

    if content_type == "multipart":
        response = client.post(
            "/api/order/",
            {"crypto": "ABAN", "amount": "1"},
            format="multipart",
        )
    else:
        response = client.post("/api/order/", body, content_type=content_type)

    assert_error(response, 415, "unsupported_media_type")
    assert balances_and_row_counts() == before


@pytest.mark.parametrize("path", ["/api/nope/", "/nope", "/api/order/1/x/"])
def test_unknown_url_is_json_not_found(operator_client, path):
    for client in (APIClient(), operator_client):
        response = client.get(path)

        assert_error(response, 404, "not_found")
        assert b"<html" not in response.content.lower()


def test_unknown_id_is_json_not_found(operator_client):
    response = operator_client.get("/api/order/x/")

    assert_error(response, 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("delete", "/api/order/{order}/"),
        ("put", "/api/order/{order}/"),
        ("patch", "/api/order/{order}/"),
        ("post", "/api/crypto/"),
        ("delete", "/api/customer/{customer}/"),
    ],
)
def test_wrong_method_is_405(
    make_customer, client_for, method, path, balances_and_row_counts
):
    alice = make_customer("alice")
    client = client_for(alice)
    placed = client.post(
        "/api/order/", {"crypto": "ABAN", "amount": "1"}, format="json"
    )
    before = balances_and_row_counts()

    response = getattr(client, method)(
        path.format(order=placed.json()["id"], customer=alice.pk),
        {},
        format="json",
    )

    assert_error(response, 405)
    assert balances_and_row_counts() == before


def test_anonymous_wrong_method_is_405(db):
    assert_error(APIClient().post("/api/crypto/", {}, format="json"), 405)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/order/"),
        ("post", "/api/order/"),
        ("get", "/api/customer/"),
        ("post", "/api/customer/"),
        ("get", "/api/purchase/"),
    ],
)
def test_no_credentials_is_401_with_challenge(db, method, path):
    response = getattr(APIClient(), method)(path, {}, format="json")

    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize(
    "header",
    [
        "Token not-a-real-key",
        "Token ",
        "Token a b",
        "Token ck_\u00e9",
    ],
    ids=repr,
)
def test_bad_token_is_401(make_customer, header, balances_and_row_counts):
    alice = make_customer("alice")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    before = balances_and_row_counts()

    listing = client.get("/api/order/")
    placing = client.post(
        "/api/order/",
        {"crypto": "ABAN", "amount": "1", "customer_id": alice.pk},
        format="json",
    )

    assert_error(listing, 401, "not_authenticated")
    assert_error(placing, 401, "not_authenticated")
    assert balances_and_row_counts() == before


def test_unexpected_exception_is_json_500(
    make_customer, client_for, monkeypatch, balances_and_row_counts
):
    alice = make_customer("alice")
    before = balances_and_row_counts()

    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(order_services, "order_place", broken)
    client = client_for(alice)
    client.raise_request_exception = False

    response = client.post(
        "/api/order/", {"crypto": "ABAN", "amount": "1"}, format="json"
    )

    error = assert_error(response, 500, "server_error")
    assert "a bug" not in error["message"]
    assert b"<html" not in response.content.lower()
    assert balances_and_row_counts() == before


def test_unexpected_exception_with_html_accept_is_still_json(
    make_customer, client_for, monkeypatch
):
    alice = make_customer("alice")

    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(order_services, "order_place", broken)
    client = client_for(alice)
    client.raise_request_exception = False

    response = client.post(
        "/api/order/",
        {"crypto": "ABAN", "amount": "1"},
        format="json",
        HTTP_ACCEPT="application/json",
    )

    assert_error(response, 500, "server_error")


def test_browser_session_places_order_through_the_html_form(
    operator, make_customer, assert_books_balance
):
    alice = make_customer("alice")
    browser = APIClient(enforce_csrf_checks=False)
    assert browser.login(username="operator", password="s3cret-pass")
    page = browser.get("/api/order/", HTTP_ACCEPT="text/html")
    assert page.status_code == 200
    html = page.content.decode()
    # The form the browsable API renders, with the fields it posts.
    form = re.search(
        r'<form action="/api/order/" method="POST" '
        r'enctype="multipart/form-data".*?</form>',
        html,
        re.S,
    )
    assert form, "no HTML form for orders"
    names = re.findall(r'name="([^"]+)"', form.group(0))
    assert {"crypto", "amount", "customer_id"} <= set(names)
    # A browser posts every input of the form, the CSRF token included.
    fields = dict.fromkeys(names, "")
    fields["csrfmiddlewaretoken"] = re.search(
        r'name="csrfmiddlewaretoken" value="([^"]+)"', form.group(0)
    ).group(1)
    fields.update(crypto="ABAN", amount="1.5", customer_id=str(alice.pk))

    response = browser.post("/api/order/", fields, format="multipart")

    assert response.status_code == 201, response.content
    placed = Order.objects.get(customer=alice)
    assert (placed.crypto_id, placed.amount, placed.total) == (
        "ABAN",
        Decimal("1.5"),
        Decimal("6.00"),
    )
    alice.refresh_from_db()
    assert alice.balance == Decimal("94.00")
    assert_books_balance()


def test_browser_session_posts_a_plain_urlencoded_form(
    operator, make_customer
):
    alice = make_customer("alice")
    browser = APIClient(enforce_csrf_checks=False)
    assert browser.login(username="operator", password="s3cret-pass")

    response = browser.post(
        "/api/order/",
        f"crypto=ABAN&amount=1&customer_id={alice.pk}",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 201, response.content
    assert response.json()["total"] == "4.00"


@pytest.mark.django_db
def test_a_post_without_the_trailing_slash_is_redirected_as_a_post(
    make_customer, client_for, balance_of
):
    """A 301 has clients send a GET after it: the order list, and no
    order. The 308 keeps the method and the body."""
    alice = make_customer("alice")
    client = client_for(alice)

    refused = client.post(
        "/api/order", {"crypto": "ABAN", "amount": "1"}, format="json"
    )
    assert refused.status_code == 308
    assert refused["Location"] == "/api/order/"
    assert balance_of(alice) == Decimal("100.00")

    placed = client.post(
        "/api/order",
        {"crypto": "ABAN", "amount": "1"},
        format="json",
        follow=True,
    )
    assert placed.status_code == 201, placed.content
    assert placed.redirect_chain == [("/api/order/", 308)]
    assert placed.json()["total"] == "4.00"
    assert balance_of(alice) == Decimal("96.00")


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post"])
def test_an_unknown_path_without_a_slash_is_a_json_404(method):
    response = getattr(APIClient(), method)("/api/no-such-thing")

    assert_error(response, 404, "not_found")
