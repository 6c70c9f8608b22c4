"""A simulated exchange: sleeps like a slow call, fills by client id.

Faults for tests and demos, all off by default, from settings:
- ``EXCHANGE_TRANSIENT_FAILURES = n``: the first n calls of each client
  order id answer "unavailable" (nothing bought).
- ``EXCHANGE_TIMEOUT_AFTER_FILL = n``: the first n calls of each client
  order id fill, then time out, so the caller cannot know the outcome.
- ``EXCHANGE_REJECT_CRYPTOS``: symbols refused for good.
"""

import logging
import time

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

logger = logging.getLogger(__name__)


def _fill(order):
    return Fill(
        client_order_id=str(order.client_order_id),
        crypto=order.crypto,
        amount=order.amount,
        filled_at=order.filled_at,
    )


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
