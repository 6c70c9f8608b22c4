"""Rate limits: per principal on order creation, per address and username
on the token endpoint, shared by every web process through Redis, and
never in the way of an order when Redis is down."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiToken, LedgerEntry
from core import throttling
from core.testing.live import free_port, http
from orders.models import Order

ORDER = {"crypto": "ABAN", "amount": "1"}


@pytest.fixture(autouse=True)
def _closed_breaker(monkeypatch):
    """The fail-open breaker closed (conftest gives each test its own
    counters and a fast password hasher)."""
    monkeypatch.setattr(throttling, "_breaker_open_until", 0.0)


def assert_throttled(response):
    assert response.status_code == 429, response.content
    assert response.json()["error"]["code"] == "throttled"
    assert set(response.json()["error"]) == {"code", "message", "details"}
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= 60
    return retry_after


@pytest.mark.django_db
def test_orders_beyond_the_rate_get_429_and_write_nothing(
    settings, make_customer, client_for
):
    settings.ORDER_RATE = "3/min"
    alice = make_customer("alice")
    client = client_for(alice)
    for _ in range(3):
        placed = client.post("/api/order/", ORDER, format="json")
        assert placed.status_code == 201, placed.content
    entries = LedgerEntry.objects.count()

    response = client.post("/api/order/", ORDER, format="json")

    assert_throttled(response)
    assert Order.objects.filter(customer=alice).count() == 3
    assert LedgerEntry.objects.count() == entries
    alice.refresh_from_db()
    assert alice.balance == Decimal("88.00")


@pytest.mark.django_db
def test_order_rate_is_per_principal(settings, make_customer, client_for):
    settings.ORDER_RATE = "2/min"
    alice, bob = make_customer("alice"), make_customer("bob")
    for _ in range(2):
        client_for(alice).post("/api/order/", ORDER, format="json")
    assert_throttled(
        client_for(alice).post("/api/order/", ORDER, format="json")
    )

    response = client_for(bob).post("/api/order/", ORDER, format="json")

    assert response.status_code == 201, response.content


@pytest.mark.django_db
def test_operator_is_one_principal_across_its_customers(
    settings, operator_client, make_customer
):
    settings.ORDER_RATE = "2/min"
    alice, bob = make_customer("alice"), make_customer("bob")
    for customer in (alice, bob):
        response = operator_client.post(
            "/api/order/", {**ORDER, "customer_id": customer.pk}, format="json"
        )
        assert response.status_code == 201, response.content

    response = operator_client.post(
        "/api/order/", {**ORDER, "customer_id": alice.pk}, format="json"
    )

    assert_throttled(response)


@pytest.mark.django_db
def test_only_order_creation_is_limited(settings, make_customer, client_for):
    settings.ORDER_RATE = "1/min"
    alice = make_customer("alice")
    client = client_for(alice)
    client.post("/api/order/", ORDER, format="json")
    assert_throttled(client.post("/api/order/", ORDER, format="json"))

    assert client.get("/api/order/").status_code == 200
    assert client.get(f"/api/customer/{alice.pk}/").status_code == 200


@pytest.mark.django_db
def test_throttled_request_is_not_stored_for_idempotent_replay(
    settings, make_customer, client_for
):
    settings.ORDER_RATE = "1/min"
    alice = make_customer("alice")
    client = client_for(alice)
    client.post("/api/order/", ORDER, format="json")
    throttled = client.post(
        "/api/order/", ORDER, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert_throttled(throttled)
    settings.ORDER_RATE = "100/min"

    retried = client.post(
        "/api/order/", ORDER, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )

    assert retried.status_code == 201, retried.content
    assert "Idempotent-Replayed" not in retried


@pytest.mark.django_db
def test_order_rate_off_means_no_limit(settings, make_customer, client_for):
    settings.ORDER_RATE = None
    alice = make_customer("alice", Decimal("1000.00"))
    client = client_for(alice)

    statuses = {
        client.post("/api/order/", ORDER, format="json").status_code
        for _ in range(5)
    }

    assert statuses == {201}


@pytest.mark.django_db
def test_orders_are_taken_when_the_rate_limit_store_is_down(
    settings, make_customer, client_for, assert_books_balance
):
    settings.ORDER_RATE = "1/min"
    cache = dict(settings.CACHES["default"])
    cache["LOCATION"] = f"redis://127.0.0.1:{free_port()}/0"
    settings.CACHES = {"default": cache}
    alice = make_customer("alice")
    client = client_for(alice)

    statuses = [
        client.post("/api/order/", ORDER, format="json").status_code
        for _ in range(3)
    ]

    assert statuses == [201, 201, 201]
    assert_books_balance()


# --- the token endpoint ------------------------------------------------


def _token(client, username="operator", password="s3cret-pass"):
    return client.post(
        "/api/token/",
        {"username": username, "password": password},
        format="json",
    )


@pytest.mark.django_db
def test_token_requests_beyond_the_rate_get_429_even_with_the_password(
    settings, operator
):
    settings.TOKEN_RATE = "3/min"
    client = APIClient()
    assert _token(client, password="wrong").status_code == 401
    assert _token(client, password="wrong").status_code == 401
    assert _token(client).status_code == 200
    tokens = ApiToken.objects.count()

    assert_throttled(_token(client))
    assert ApiToken.objects.count() == tokens


@pytest.mark.django_db
def test_token_rate_is_per_username_and_address(settings, operator):
    settings.TOKEN_RATE = "1/min"
    _token(APIClient(), username="someone-else", password="x")
    assert _token(APIClient()).status_code == 200
    assert_throttled(_token(APIClient()))

    elsewhere = APIClient(REMOTE_ADDR="10.0.0.7")

    assert _token(elsewhere).status_code == 200


@pytest.mark.django_db
def test_forwarded_for_header_does_not_reset_the_token_rate(
    settings, operator
):
    settings.TOKEN_RATE = "1/min"
    _token(APIClient())

    spoofed = APIClient(HTTP_X_FORWARDED_FOR="203.0.113.9")

    assert_throttled(_token(spoofed))


@pytest.mark.django_db
def test_username_case_does_not_reset_the_token_rate(settings, operator):
    settings.TOKEN_RATE = "1/min"
    _token(APIClient())

    assert_throttled(_token(APIClient(), username="OPERATOR"))


@pytest.mark.parametrize("path", ["/admin/login/", "/api-auth/login/"])
def test_form_logins_share_the_token_rate(settings, operator, path):
    """A password guessed through a login form counts as one guessed
    at the token endpoint, and the other way round."""
    settings.TOKEN_RATE = "2/min"
    browser = APIClient()
    wrong = {"username": "operator", "password": "wrong"}
    assert browser.post(path, wrong).status_code == 200  # the form again
    assert _token(APIClient(), password="wrong").status_code == 401

    response = browser.post(path, {**wrong, "password": "s3cret-pass"})

    assert_throttled(response)
    assert "_auth_user_id" not in browser.session
    assert_throttled(_token(APIClient()))


# --- across processes ----------------------------------------------------


def test_order_rate_holds_across_web_processes(live, make_customer):
    """Two granian servers of two workers each share one Redis: five
    orders in the minute, wherever they land; the sixth is refused by
    whichever process answers it."""
    redis = live.redis()
    env = live.env(redis, ORDER_RATE="5/min")
    first, second = live.web(env), live.web(env)
    alice = make_customer("alice", Decimal("500.00"))
    bob = make_customer("bob", Decimal("500.00"))

    def place(web, customer=alice):
        return http(
            "POST", f"{web.url}/api/order/", token=customer.api_key, body=ORDER
        )

    placed = [place(web)[0] for web in (first, second, first, second, first)]
    assert placed == [201] * 5
    for web in (second, first, second):
        status, body, headers = place(web)
        assert status == 429, body
        assert body["error"]["code"] == "throttled"
        assert 1 <= int(headers["Retry-After"]) <= 60

    assert place(second, bob)[0] == 201
    assert Order.objects.filter(customer=alice).count() == 5
