"""``Idempotency-Key`` on POST: a retried request is answered, never
executed twice, whatever the timing."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from accounts.models import LedgerEntry
from core.testing.clients import token_client
from core.testing.envelope import assert_error
from core.testing.threads import run_together
from orders import services as order_services
from orders.models import Order

ORDER = {"crypto": "ABAN", "amount": "1"}


def post_order(client, key, payload=ORDER):
    return client.post(
        "/api/order/", payload, format="json", HTTP_IDEMPOTENCY_KEY=key
    )


def debits_of(customer):
    return LedgerEntry.objects.filter(customer=customer, kind="order").count()


def replayed(response):
    return response.headers.get("Idempotent-Replayed") == "true"


@pytest.mark.django_db
def test_same_key_same_body_replays_the_first_response(
    make_customer, client_for, assert_books_balance, balance_of
):
    alice = make_customer("alice")
    client = client_for(alice)

    first = post_order(client, "order-1")
    second = post_order(client, "order-1")
    third = post_order(client, "order-1")

    assert first.status_code == 201, first.content
    assert not replayed(first)
    for again in (second, third):
        assert again.status_code == 201
        assert again.json() == first.json()
        assert replayed(again)
    assert Order.objects.filter(customer=alice).count() == 1
    assert debits_of(alice) == 1
    assert balance_of(alice) == Decimal("96.00")
    assert_books_balance()


@pytest.mark.django_db
def test_same_key_with_amount_as_number_or_string_is_the_same_request(
    make_customer, client_for
):
    alice = make_customer("alice")
    client = client_for(alice)

    first = post_order(client, "k", {"crypto": "ABAN", "amount": "1.5"})
    second = post_order(client, "k", {"crypto": "ABAN", "amount": 1.5})

    assert first.status_code == 201, first.content
    assert second.status_code == 201, second.content
    assert replayed(second)
    assert second.json() == first.json()
    assert Order.objects.count() == 1


@pytest.mark.django_db
def test_same_key_different_body_is_refused(
    make_customer, client_for, balance_of
):
    alice = make_customer("alice")
    client = client_for(alice)
    first = post_order(client, "order-1")
    assert first.status_code == 201

    response = post_order(client, "order-1", {"crypto": "ABAN", "amount": "2"})

    assert_error(response, 422, "idempotency_key_reused")
    assert not replayed(response)
    assert Order.objects.filter(customer=alice).count() == 1
    assert debits_of(alice) == 1
    assert balance_of(alice) == Decimal("96.00")


@pytest.mark.django_db
def test_keys_are_scoped_per_principal(
    make_customer, client_for, operator_client, balance_of
):
    alice = make_customer("alice")
    bob = make_customer("bob")

    for_alice = post_order(client_for(alice), "shared")
    for_bob = post_order(client_for(bob), "shared")
    by_operator = post_order(
        operator_client, "shared", {**ORDER, "customer_id": bob.pk}
    )

    for response in (for_alice, for_bob, by_operator):
        assert response.status_code == 201, response.content
        assert not replayed(response)
    assert for_alice.json()["customer_id"] == alice.pk
    assert for_bob.json()["customer_id"] == bob.pk
    assert by_operator.json()["customer_id"] == bob.pk
    ids = {r.json()["id"] for r in (for_alice, for_bob, by_operator)}
    assert len(ids) == 3
    assert Order.objects.count() == 3
    assert balance_of(alice) == Decimal("96.00")
    assert balance_of(bob) == Decimal("92.00")


@pytest.mark.django_db
def test_key_longer_than_255_is_invalid(make_customer, client_for, balance_of):
    alice = make_customer("alice")
    client = client_for(alice)

    response = post_order(client, "k" * 256)

    error = assert_error(response, 400, "invalid")
    assert error["details"]
    assert not Order.objects.exists()
    assert debits_of(alice) == 0
    assert balance_of(alice) == Decimal("100.00")


@pytest.mark.django_db
def test_key_of_255_is_accepted(make_customer, client_for):
    alice = make_customer("alice")
    client = client_for(alice)

    first = post_order(client, "k" * 255)
    second = post_order(client, "k" * 255)

    assert first.status_code == 201, first.content
    assert replayed(second)
    assert Order.objects.count() == 1


@pytest.mark.django_db
def test_error_response_is_replayed_too(
    make_customer, client_for, operator_client, balance_of
):
    alice = make_customer("alice", Decimal("3.00"))
    client = client_for(alice)
    first = post_order(client, "poor")
    assert_error(first, 400, "insufficient_funds")
    # Even once the funds are there, the key answers what it answered.
    deposit = operator_client.post(
        f"/api/customer/{alice.pk}/deposit/", {"amount": "10"}, format="json"
    )
    assert deposit.status_code == 200

    second = post_order(client, "poor")

    assert second.status_code == 400
    assert second.json() == first.json()
    assert replayed(second)
    assert not Order.objects.exists()
    assert balance_of(alice) == Decimal("13.00")


@pytest.mark.django_db
def test_deposit_with_the_same_key_is_credited_once(
    make_customer, operator_client, assert_books_balance, balance_of
):
    alice = make_customer("alice")
    url = f"/api/customer/{alice.pk}/deposit/"

    responses = [
        operator_client.post(
            url, {"amount": "5"}, format="json", HTTP_IDEMPOTENCY_KEY="dep"
        )
        for _ in range(3)
    ]

    assert [r.status_code for r in responses] == [200, 200, 200]
    assert [replayed(r) for r in responses] == [False, True, True]
    assert balance_of(alice) == Decimal("105.00")
    assert LedgerEntry.objects.filter(customer=alice).count() == 2
    assert_books_balance()


@pytest.mark.django_db
def test_created_customer_key_is_not_kept_in_plain_text(operator_client):
    response = operator_client.post(
        "/api/customer/",
        {"name": "bob"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="new-bob",
    )
    assert response.status_code == 201, response.content
    api_key = response.json()["api_key"]

    # docs/api.md: keys are stored hashed, never in plain text -- the
    # stored response of an idempotent request included.
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"SELECT t::text FROM {quoted} t")
            for (row,) in cursor.fetchall():
                assert api_key not in row, f"{table} stores the api_key"


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_place_one_order(
    make_customer, assert_books_balance, balance_of
):
    alice = make_customer("alice")
    clients = [token_client(alice.api_key) for _ in range(20)]

    responses = run_together(
        len(clients), lambda index: post_order(clients[index], "race")
    )

    assert not [r for r in responses if not hasattr(r, "status_code")]
    created = [r for r in responses if r.status_code == 201]
    originals = [r for r in created if not replayed(r)]
    assert len(originals) == 1, [r.status_code for r in responses]
    for response in responses:
        if response.status_code == 201:
            assert response.json() == originals[0].json()
        else:
            assert_error(response, 409, "idempotency_key_in_use")
    assert Order.objects.filter(customer=alice).count() == 1
    assert debits_of(alice) == 1
    assert balance_of(alice) == Decimal("96.00")
    assert_books_balance()


@pytest.mark.django_db(transaction=True)
def test_same_key_while_first_is_running_is_in_use(
    make_customer, monkeypatch, assert_books_balance, balance_of
):
    alice = make_customer("alice")
    started, release = threading.Event(), threading.Event()
    real_order_place = order_services.order_place

    def slow_order_place(**kwargs):
        started.set()
        assert release.wait(timeout=10)
        return real_order_place(**kwargs)

    monkeypatch.setattr(order_services, "order_place", slow_order_place)
    first = {}

    def send_first():
        try:
            first["response"] = post_order(token_client(alice.api_key), "slow")
        finally:
            connection.close()

    thread = threading.Thread(target=send_first)
    thread.start()
    try:
        assert started.wait(timeout=10)

        during = post_order(token_client(alice.api_key), "slow")
    finally:
        release.set()
        thread.join(timeout=30)
    after = post_order(token_client(alice.api_key), "slow")

    assert_error(during, 409, "idempotency_key_in_use")
    assert first["response"].status_code == 201
    assert not replayed(first["response"])
    assert after.status_code == 201
    assert replayed(after)
    assert after.json() == first["response"].json()
    assert Order.objects.filter(customer=alice).count() == 1
    assert balance_of(alice) == Decimal("96.00")
    assert_books_balance()


@pytest.mark.django_db
def test_keys_are_kept_two_days_then_purged(make_customer, client_for):
    from datetime import timedelta

    from django.utils import timezone

    from core.idempotency import idempotency_records_purge
    from core.models import IdempotencyRecord

    client = client_for(make_customer("keeper"))
    body = {"crypto": "ABAN", "amount": "1"}
    for key in ("old", "recent"):
        response = client.post(
            "/api/order/", body, format="json", HTTP_IDEMPOTENCY_KEY=key
        )
        assert response.status_code == 201
    IdempotencyRecord.objects.filter(key="old").update(
        created_at=timezone.now() - timedelta(hours=49)
    )
    IdempotencyRecord.objects.filter(key="recent").update(
        created_at=timezone.now() - timedelta(hours=25)
    )

    assert idempotency_records_purge() == 1

    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == [
        "recent"
    ]
    replay = client.post(
        "/api/order/", body, format="json", HTTP_IDEMPOTENCY_KEY="recent"
    )
    assert replay["Idempotent-Replayed"] == "true"
