"""RQ entry points. A job takes a purchase id, re-reads and locks the
row, and is safe to run twice: the claim admits one worker at a time,
and the exchange is asked by ``client_order_id``, which it fills once.
"""

import logging
import threading
import time
import uuid

from django.conf import settings
from django.db import close_old_connections, connection

from exchange.client import (
    ExchangeRejected,
    ExchangeTimeout,
    ExchangeUnavailable,
    buy_from_exchange,
    get_exchange,
)
from orders import services

logger = logging.getLogger("orders.worker")


class _LeaseHeartbeat(threading.Thread):
    """Extends the purchase's lease while the exchange call runs, so a
    killed worker is noticed within one lease, and a live one is not."""

    def __init__(self, purchase_id, owner):
        super().__init__(daemon=True, name=f"lease-{purchase_id}")
        self.purchase_id = purchase_id
        self.owner = owner
        self.stopped = threading.Event()

    def run(self):
        interval = settings.PURCHASE_LEASE_SECONDS / 3
        try:
            while not self.stopped.wait(interval):
                services.purchase_lease_extend(
                    purchase_id=self.purchase_id, owner=self.owner
                )
        except Exception:  # noqa: BLE001 - the lease will simply lapse
            logger.exception("lease heartbeat of #%s", self.purchase_id)
        finally:
            connection.close()


def purchase_execute(purchase_id: int) -> str:
    """Buy one purchase at the exchange; returns what happened."""
    close_old_connections()
    owner = uuid.uuid4().hex
    purchase = services.purchase_claim(purchase_id=purchase_id, owner=owner)
    if purchase is None:
        return "skipped"
    client_order_id = str(purchase.client_order_id)
    heartbeat = _LeaseHeartbeat(purchase_id, owner)
    heartbeat.start()
    try:
        return _attempt(purchase, owner, client_order_id)
    finally:
        heartbeat.stopped.set()


def _attempt(purchase, owner, client_order_id):
    tag = (
        f"purchase #{purchase.pk} {purchase.amount.normalize()} "
        f"{purchase.crypto_id} (${purchase.total}) "
        f"client_order_id={client_order_id}"
    )
    exchange = get_exchange()
    started = time.monotonic()
    try:
        fill = None
        if purchase.attempts > 1:
            # An earlier attempt may have bought it and died before
            # recording it: ask before buying again.
            fill = exchange.lookup(client_order_id=client_order_id)
        if fill is None:
            logger.info("exchange call started: %s", tag)
            fill = buy_from_exchange(
                purchase.crypto_id, purchase.amount, client_order_id
            )
    except ExchangeRejected as exc:
        services.purchase_fail(purchase_id=purchase.pk, error=str(exc))
        logger.warning("exchange refused %s: %s; refunded", tag, exc)
        return "failed"
    except (ExchangeUnavailable, ExchangeTimeout) as exc:
        return _after_transient_failure(purchase, owner, tag, exc)
    services.purchase_complete(purchase_id=purchase.pk)
    logger.info(
        "exchange call done in %.2fs: %s",
        time.monotonic() - started,
        tag,
    )
    return "completed"


def _after_transient_failure(purchase, owner, tag, exc):
    error = f"{type(exc).__name__}: {exc}"
    if purchase.attempts < settings.PURCHASE_MAX_ATTEMPTS:
        services.purchase_retry_later(
            purchase_id=purchase.pk, owner=owner, error=error
        )
        logger.warning(
            "retry %s/%s of %s after %s",
            purchase.attempts,
            settings.PURCHASE_MAX_ATTEMPTS,
            tag,
            error,
        )
        return "retrying"
    # Out of attempts. A timeout leaves the outcome unknown: only a fill
    # the exchange denies having is refunded.
    if get_exchange().lookup(client_order_id=str(purchase.client_order_id)):
        services.purchase_complete(purchase_id=purchase.pk)
        logger.info("exchange confirms an earlier fill: %s", tag)
        return "completed"
    services.purchase_fail(purchase_id=purchase.pk, error=error)
    return "failed"
