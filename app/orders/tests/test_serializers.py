"""The hand-written order representation of the hot path says exactly
what OrderSerializer says, for pending, submitted and odd amounts."""

from decimal import Decimal

import pytest

from orders import services
from orders.models import Order
from orders.serializers import OrderSerializer, order_data


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("symbol", "amount"),
    [
        ("ABAN", "1.5"),  # pending in the pool
        ("ETH", "0.0123456789"),  # a purchase of its own
        ("DOGE", "123456789.1"),  # many integer digits
        ("BTC", "0.00000017"),  # a tiny amount, total rounded up
    ],
)
def test_order_data_matches_the_serializer(make_customer, symbol, amount):
    customer = make_customer("rich", Decimal("99999999.99"))

    placed = services.order_place(
        customer_id=customer.pk, symbol=symbol, amount=Decimal(amount)
    )

    assert order_data(placed) == OrderSerializer(placed).data
    stored = Order.objects.get(pk=placed.pk)
    assert order_data(stored) == OrderSerializer(stored).data
    assert order_data(placed) == order_data(stored)
