"""The life of a credential: issued once, stored hashed, revoked by an
operator (a customer's keys) or by its holder (the token of a request)."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiToken, Customer, LedgerEntry
from core.testing.clients import token_client

pytestmark = pytest.mark.django_db


def assert_unauthenticated(response):
    assert response.status_code == 401, response.content
    assert response.json()["error"]["code"] == "not_authenticated"


def revoke_keys(client, customer_id, **extra):
    return client.post(
        f"/api/customer/{customer_id}/revoke-keys/", format="json", **extra
    )


# --- an operator revokes a customer's keys ------------------------------


def test_revoked_customer_key_stops_working_and_no_new_one_is_shown(
    operator_client, make_customer
):
    alice = make_customer("alice")
    own = token_client(alice.api_key)
    assert own.get(f"/api/customer/{alice.pk}/").status_code == 200

    response = revoke_keys(operator_client, alice.pk)

    assert response.status_code == 200, response.content
    assert response.json() == {"id": alice.pk, "revoked_keys": 1}
    assert_unauthenticated(own.get(f"/api/customer/{alice.pk}/"))
    assert_unauthenticated(
        own.post("/api/order/", {"crypto": "ABAN", "amount": "1"})
    )
    assert not ApiToken.objects.filter(
        user=alice.user, revoked_at__isnull=True
    ).exists()


def test_revoking_keys_leaves_the_money_alone(
    operator_client, make_customer, assert_books_balance
):
    alice = make_customer("alice", Decimal("42.00"))
    entries = LedgerEntry.objects.count()

    revoke_keys(operator_client, alice.pk)

    assert Customer.objects.get(pk=alice.pk).balance == Decimal("42.00")
    assert LedgerEntry.objects.count() == entries
    assert_books_balance()


def test_revoking_twice_revokes_nothing_more(operator_client, make_customer):
    alice = make_customer("alice")
    revoke_keys(operator_client, alice.pk)

    again = revoke_keys(operator_client, alice.pk)

    assert again.status_code == 200
    assert again.json()["revoked_keys"] == 0


def test_rotation_after_revocation_lets_the_customer_back_in(
    operator_client, make_customer
):
    alice = make_customer("alice")
    revoke_keys(operator_client, alice.pk)

    rotated = operator_client.post(
        f"/api/customer/{alice.pk}/rotate-key/", format="json"
    )

    assert rotated.status_code == 200, rotated.content
    fresh = token_client(rotated.json()["api_key"])
    assert fresh.get(f"/api/customer/{alice.pk}/").status_code == 200
    assert_unauthenticated(
        token_client(alice.api_key).get(f"/api/customer/{alice.pk}/")
    )


def test_revoking_one_customer_leaves_the_others(
    operator_client, make_customer
):
    alice, bob = make_customer("alice"), make_customer("bob")

    revoke_keys(operator_client, alice.pk)

    assert token_client(bob.api_key).get("/api/customer/").status_code == 200


def test_revoking_keys_of_unknown_customer_is_not_found(operator_client):
    response = revoke_keys(operator_client, 999999)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_revoke_keys_replays_with_an_idempotency_key(
    operator_client, make_customer
):
    alice = make_customer("alice")
    first = revoke_keys(operator_client, alice.pk, HTTP_IDEMPOTENCY_KEY="r1")

    replay = revoke_keys(operator_client, alice.pk, HTTP_IDEMPOTENCY_KEY="r1")

    assert replay.json() == first.json() == {"id": alice.pk, "revoked_keys": 1}
    assert replay["Idempotent-Replayed"] == "true"


# --- the holder revokes the token of its request -----------------------


def _issue(username="operator", password="s3cret-pass"):
    response = APIClient().post(
        "/api/token/",
        {"username": username, "password": password},
        format="json",
    )
    assert response.status_code == 200, response.content
    return response.json()["token"]


def test_operator_revokes_the_token_it_sent(operator):
    token = _issue()
    client = token_client(token)
    assert client.get("/api/customer/").status_code == 200

    response = client.delete("/api/token/")

    assert response.status_code == 204
    assert response.content == b""
    assert_unauthenticated(client.get("/api/customer/"))
    assert_unauthenticated(client.delete("/api/token/"))


def test_revoking_a_token_leaves_the_operators_other_tokens(operator):
    kept, dropped = _issue(), _issue()

    token_client(dropped).delete("/api/token/")

    assert token_client(kept).get("/api/customer/").status_code == 200
    assert_unauthenticated(token_client(dropped).get("/api/customer/"))


def test_customer_may_revoke_its_own_key(make_customer):
    alice = make_customer("alice")
    client = token_client(alice.api_key)

    assert client.delete("/api/token/").status_code == 204

    assert_unauthenticated(client.get(f"/api/customer/{alice.pk}/"))


def test_a_session_has_no_token_to_revoke(operator):
    browser = APIClient()
    browser.force_login(operator)

    response = browser.delete("/api/token/")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert ApiToken.objects.filter(revoked_at__isnull=False).count() == 0


def test_a_deactivated_operators_tokens_stop_working(
    operator, operator_client
):
    operator.is_active = False
    operator.save()

    assert_unauthenticated(operator_client.get("/api/customer/"))


# --- shown once, kept hashed ---------------------------------------------


def test_key_is_shown_only_when_issued(operator_client, make_customer):
    created = operator_client.post(
        "/api/customer/", {"name": "bob"}, format="json"
    )
    key = created.json()["api_key"]
    bob_id = created.json()["id"]
    own = token_client(key)

    reads = [
        operator_client.get("/api/customer/"),
        operator_client.get(f"/api/customer/{bob_id}/"),
        own.get(f"/api/customer/{bob_id}/"),
        own.get(f"/api/customer/{bob_id}/ledger/"),
    ]

    for response in reads:
        assert response.status_code == 200
        assert "api_key" not in response.content.decode()
        assert key not in response.content.decode()
    stored = ApiToken.objects.get(user__customer__id=bob_id)
    assert stored.digest != key and key not in stored.digest
    assert stored.prefix == key[:10]
