"""What a customer owns: per crypto, exactly the sums over its completed
orders, with what is on the way beside it."""

from decimal import Decimal

import pytest

from orders import jobs
from orders.services import order_cancel, order_place

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("queue"),
]


def place(customer, symbol, amount):
    return order_place(
        customer_id=customer.pk, symbol=symbol, amount=Decimal(amount)
    )


def test_holdings_sum_completed_orders_and_show_what_is_on_the_way(
    settings, make_customer, client_for, assert_books_balance
):
    settings.EXCHANGE_REJECT_CRYPTOS = ["SOL"]
    alice = make_customer("alice", Decimal("1000.00"))
    bought = [
        place(alice, "ETH", "0.01"),  # $32.00
        place(alice, "ETH", "0.0123456789"),  # $39.51 (rounded up)
    ]
    # One job buys both (merged into one exchange call).
    assert jobs.purchase_execute(bought[0].purchase_id) == "completed"
    refused = place(alice, "SOL", "0.1")
    assert jobs.purchase_execute(refused.purchase_id) == "failed"
    place(alice, "ETH", "0.02")  # submitted: on the way
    place(alice, "ABAN", "1")  # pending: on the way
    cancelled = place(alice, "ABAN", "0.5")
    order_cancel(order_id=cancelled.pk)

    response = client_for(alice).get(f"/api/customer/{alice.pk}/holdings/")

    assert response.status_code == 200, response.content
    assert response.json() == [
        {
            "crypto": "ABAN",
            "amount": "0.0000000000",
            "on_the_way": "1.0000000000",
            "spent": "0.00",
            "average_price": None,
        },
        {
            "crypto": "ETH",
            "amount": "0.0223456789",
            "on_the_way": "0.0200000000",
            "spent": "71.51",
            # 71.51 / 0.0223456789, to 8 places
            "average_price": "3200.17128681",
        },
        {
            "crypto": "SOL",
            "amount": "0.0000000000",
            "on_the_way": "0.0000000000",
            "spent": "0.00",
            "average_price": None,
        },
    ]
    assert_books_balance()


def test_holdings_are_the_customers_own(
    make_customer, client_for, operator_client
):
    alice, mallory = make_customer("alice"), make_customer("mallory")
    place(alice, "ETH", "0.01")

    assert (
        client_for(mallory)
        .get(f"/api/customer/{alice.pk}/holdings/")
        .status_code
        == 404
    )
    assert (
        client_for(mallory).get(f"/api/customer/{mallory.pk}/holdings/").json()
        == []
    )
    operator_view = operator_client.get(f"/api/customer/{alice.pk}/holdings/")
    assert operator_view.status_code == 200
    assert operator_view.json()[0]["on_the_way"] == "0.0100000000"
