"""A simulated exchange: sleeps like a slow call, fills by client id.

Faults for tests and demos, all off by default, from settings:
- ``EXCHANGE_TRANSIENT_FAILURES = n``: the first n calls of each client
  order id answer "unavailable" (nothing bought).
- ``EXCHANGE_TIMEOUT_AFTER_FILL = n``: the first n calls of each client
  order id fill, then time out, so the caller cannot know the outcome.
- ``EXCHANGE_REJECT_CRYPTOS``: symbols refused for good.

Like the real one, it refuses for good a purchase worth less than
``PURCHASE_THRESHOLD`` at the crypto's price (the listed price here), so
that every test that buys checks the service never sends one.
"""

import logging
import time
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from exchange.client import (
    ExchangeClient,
    ExchangeRejected,
    ExchangeTimeout,
    ExchangeUnavailable,
    Fill,
)
from exchange.models import SimulatedExchangeOrder
from orders.models import Crypto

logger = logging.getLogger(__name__)


def _fill(order):
    return Fill(
        client_order_id=str(order.client_order_id),
        crypto=order.crypto,
        amount=order.amount,
        filled_at=order.filled_at,
    )


def _worth(crypto, amount):
    """What ``amount`` is worth at the service's listed price (the
    simulation's market), or None for a crypto it does not list."""
    price = Crypto.objects.filter(pk=crypto).values_list("price", flat=True)
    price = price.first()
    return None if price is None else Decimal(amount) * price


class SimulatedExchange(ExchangeClient):
    def _count_call(self, *, crypto, amount, client_order_id):
        with transaction.atomic():
            orders = SimulatedExchangeOrder.objects.select_for_update()
            order, _ = orders.get_or_create(
                client_order_id=client_order_id,
                defaults={"crypto": crypto, "amount": amount},
            )
            order.calls += 1
            order.save(update_fields=["calls"])
        return order

    def _record_fill(self, order):
        with transaction.atomic():
            order = SimulatedExchangeOrder.objects.select_for_update().get(
                pk=order.pk
            )
            if order.filled_at is None:
                order.filled_at = timezone.now()
                order.save(update_fields=["filled_at"])
        return order

    def buy(self, *, crypto, amount, client_order_id):
        order = self._count_call(
            crypto=crypto, amount=amount, client_order_id=client_order_id
        )
        if order.filled_at is not None:
            # A repeat: answer with the first fill, buy nothing.
            return _fill(order)
        time.sleep(settings.EXCHANGE_LATENCY_SECONDS)
        if crypto in settings.EXCHANGE_REJECT_CRYPTOS:
            raise ExchangeRejected(f"{crypto} is not traded")
        worth = _worth(crypto, amount)
        if worth is not None and worth < settings.PURCHASE_THRESHOLD:
            raise ExchangeRejected(
                f"{amount} {crypto} is worth ${worth}, under the "
                f"minimum of ${settings.PURCHASE_THRESHOLD}"
            )
        if order.calls <= settings.EXCHANGE_TRANSIENT_FAILURES:
            raise ExchangeUnavailable("exchange unavailable, try again")
        order = self._record_fill(order)
        if order.calls <= settings.EXCHANGE_TIMEOUT_AFTER_FILL:
            raise ExchangeTimeout("no answer from the exchange")
        return _fill(order)

    def lookup(self, *, client_order_id):
        order = SimulatedExchangeOrder.objects.filter(
            client_order_id=client_order_id, filled_at__isnull=False
        ).first()
        return _fill(order) if order else None
