"""The price book: listed cryptos, cached in each process for a moment.

Reading the price is on every order's path, so it is kept in memory for
``PRICE_CACHE_SECONDS``. A stale price is never charged: the order's
statement debits only if the price in the table is still the one quoted,
and a miss refreshes the book and quotes again.
"""

import time

from django.conf import settings

from orders.models import Crypto

_book = {}
_loaded_at = float("-inf")


def refresh():
    global _book, _loaded_at
    _book = {crypto.pk: crypto for crypto in Crypto.objects.all()}
    _loaded_at = time.monotonic()


def quote(symbol: str, *, fresh: bool = False) -> Crypto | None:
    """The listed crypto, or None if it is not listed."""
    stale = time.monotonic() - _loaded_at > settings.PRICE_CACHE_SECONDS
    if fresh or stale:
        refresh()
    crypto = _book.get(symbol)
    if crypto is None and not (fresh or stale):
        refresh()
        crypto = _book.get(symbol)
    return crypto


def listed_symbols() -> list[str]:
    """The symbols of the book as last read, in order."""
    return sorted(_book)
