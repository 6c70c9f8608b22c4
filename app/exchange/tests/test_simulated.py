"""The exchange package on its own: ``buy_from_exchange`` goes to the
client ``settings.EXCHANGE_CLIENT`` names, and the simulated exchange
fills once per client order id, with its faults from settings."""

import uuid
from decimal import Decimal

import pytest

from exchange.client import (
    ExchangeRejected,
    ExchangeTimeout,
    ExchangeUnavailable,
    buy_from_exchange,
    get_exchange,
)
from exchange.models import SimulatedExchangeOrder
from exchange.simulated import SimulatedExchange

pytestmark = pytest.mark.django_db


def test_the_setting_chooses_the_client(settings):
    settings.EXCHANGE_CLIENT = "exchange.simulated.SimulatedExchange"

    assert isinstance(get_exchange(), SimulatedExchange)


def test_a_repeated_client_order_id_returns_the_first_fill():
    client_order_id = uuid.uuid4()

    first = buy_from_exchange("ETH", Decimal("0.01"), client_order_id)
    again = buy_from_exchange("ETH", Decimal("0.01"), client_order_id)

    assert again == first
    assert first.client_order_id == str(client_order_id)
    assert (first.crypto, first.amount) == ("ETH", Decimal("0.01"))
    order = SimulatedExchangeOrder.objects.get()
    assert order.calls == 2
    assert order.filled_at == first.filled_at


def test_transient_failures_buy_nothing_until_they_are_spent(settings):
    settings.EXCHANGE_TRANSIENT_FAILURES = 2
    exchange = SimulatedExchange()
    client_order_id = str(uuid.uuid4())
    kwargs = {"crypto": "BTC", "amount": Decimal("0.001")}

    for _ in range(2):
        with pytest.raises(ExchangeUnavailable):
            exchange.buy(client_order_id=client_order_id, **kwargs)
        assert exchange.lookup(client_order_id=client_order_id) is None

    fill = exchange.buy(client_order_id=client_order_id, **kwargs)

    assert exchange.lookup(client_order_id=client_order_id) == fill
    assert SimulatedExchangeOrder.objects.get().calls == 3


def test_a_timeout_after_the_fill_leaves_the_fill_to_look_up(settings):
    settings.EXCHANGE_TIMEOUT_AFTER_FILL = 1
    exchange = SimulatedExchange()
    client_order_id = str(uuid.uuid4())

    with pytest.raises(ExchangeTimeout):
        exchange.buy(
            crypto="SOL", amount=Decimal("1"), client_order_id=client_order_id
        )

    fill = exchange.lookup(client_order_id=client_order_id)
    assert fill is not None
    assert (fill.crypto, fill.amount) == ("SOL", Decimal("1"))


def test_a_rejected_crypto_is_never_filled(settings):
    settings.EXCHANGE_REJECT_CRYPTOS = ["DOGE"]
    exchange = SimulatedExchange()
    client_order_id = str(uuid.uuid4())

    with pytest.raises(ExchangeRejected):
        exchange.buy(
            crypto="DOGE",
            amount=Decimal("20"),
            client_order_id=client_order_id,
        )

    assert exchange.lookup(client_order_id=client_order_id) is None
    assert SimulatedExchangeOrder.objects.get().filled_at is None
