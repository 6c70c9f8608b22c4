"""``OPTIONS`` tells a client what each write takes: the fields it may
send, which are required, never the answer's read-only fields."""

import pytest


@pytest.fixture
def alice(make_customer):
    return make_customer("alice")


def writable(response, method="POST"):
    fields = response.json()["actions"][method]
    return {
        name: info["required"]
        for name, info in fields.items()
        if not info["read_only"]
    }


@pytest.mark.django_db
def test_options_on_the_orders_describe_what_an_order_takes(client_for, alice):
    response = client_for(alice).options("/api/order/")

    assert response.status_code == 200
    assert writable(response) == {
        "crypto": True,
        "amount": True,
        "customer_id": False,
    }
    assert set(response.json()["actions"]["POST"]) == {
        "crypto",
        "amount",
        "customer_id",
    }


@pytest.mark.django_db
def test_options_on_customers_and_deposits_describe_their_bodies(
    operator_client, alice
):
    customers = operator_client.options("/api/customer/")
    deposit = operator_client.options(f"/api/customer/{alice.pk}/deposit/")

    assert writable(customers) == {"name": True, "balance": False}
    assert writable(deposit) == {"amount": True}


@pytest.mark.django_db
def test_options_offers_no_write_to_whom_it_is_not_allowed(client_for, alice):
    """A customer may not create customers: no POST is described."""
    response = client_for(alice).options("/api/customer/")

    assert "POST" not in (response.json().get("actions") or {})
