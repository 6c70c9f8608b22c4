"""The exchange client: the interface, the factory, ``buy_from_exchange``.

The class used is chosen by ``settings.EXCHANGE_CLIENT`` (an import path),
the way Django chooses an e-mail backend, so that a real exchange can
replace the simulated one without touching the order code.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.utils.module_loading import import_string


class ExchangeError(Exception):
    """The call failed; whether it may be tried again says the subclass."""


class ExchangeUnavailable(ExchangeError):
    """A transient refusal: nothing was bought; try again later."""


class ExchangeTimeout(ExchangeError):
    """The outcome is unknown: ask the exchange before buying again."""


class ExchangeRejected(ExchangeError):
    """The exchange refused for good: the purchase will never be filled."""


@dataclass(frozen=True)
class Fill:
    client_order_id: str
    crypto: str
    amount: Decimal
    filled_at: datetime


class ExchangeClient(ABC):
    @abstractmethod
    def buy(self, *, crypto: str, amount: Decimal, client_order_id: str):
        """Buy, idempotently by ``client_order_id``; return the Fill.

        A repeat of a filled ``client_order_id`` returns the first fill
        and buys nothing.
        """

    @abstractmethod
    def lookup(self, *, client_order_id: str) -> Fill | None:
        """The fill of an earlier order, or None if it was never filled."""


def get_exchange() -> ExchangeClient:
    return import_string(settings.EXCHANGE_CLIENT)()


def buy_from_exchange(crypto, amount, client_order_id) -> Fill:
    """The original design's entry point, plus the client order id."""
    return get_exchange().buy(
        crypto=crypto, amount=amount, client_order_id=str(client_order_id)
    )
