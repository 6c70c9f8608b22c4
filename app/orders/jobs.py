"""RQ entry points. A job takes a purchase id, re-reads and locks the
row, and is safe to run twice: the claim admits one worker at a time,
and the exchange is asked by ``client_order_id``, which it fills once.
"""

import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import close_old_connections, connection

from exchange.client import (
    ExchangeRejected,
    ExchangeTimeout,
    ExchangeUnavailable,
    buy_from_exchange,
    get_exchange,
)
from monitoring import metrics
from orders import doorbell, services

logger = logging.getLogger("orders.worker")

# Exchange calls of different cryptos that one job runs at once.
MAX_PARALLEL_CALLS = 8
# The outcome label of an exchange call that raised.
_EXCHANGE_OUTCOMES = {
    ExchangeRejected: "rejected",
    ExchangeUnavailable: "unavailable",
    ExchangeTimeout: "timeout",
}


class _LeaseHeartbeat(threading.Thread):
    """Extends the leases of this job's purchases while the exchange
    calls run, so a killed worker is noticed within one lease, and a live
    one is not."""

    def __init__(self, owner):
        super().__init__(daemon=True, name=f"lease-{owner}")
        self.owner = owner
        self.stopped = threading.Event()

    def run(self):
        interval = settings.PURCHASE_LEASE_SECONDS / 3
        try:
            while not self.stopped.wait(interval):
                services.purchases_lease_extend(owner=self.owner)
        except Exception:  # noqa: BLE001 - the lease will simply lapse
            logger.exception("lease heartbeat of %s", self.owner)
        finally:
            connection.close()


def purchase_execute(purchase_id: int) -> str:
    """Buy what is ready at the exchange; return what became of
    ``purchase_id`` ("skipped" if another job had it or it is done).

    The job that answers a doorbell takes every purchase ready at that
    moment, coalesced into one exchange call per crypto, and runs the
    calls of different cryptos side by side.
    """
    close_old_connections()
    doorbell.doorbell_answered()
    owner = uuid.uuid4().hex
    claims = services.purchases_claim_ready(owner=owner)
    if not claims:
        return "skipped"
    heartbeat = _LeaseHeartbeat(owner)
    heartbeat.start()
    try:
        outcomes = _attempt_all(claims, owner)
    finally:
        heartbeat.stopped.set()
    for claim, outcome in zip(claims, outcomes, strict=True):
        if purchase_id == claim.purchase.pk or purchase_id in claim.absorbed:
            return outcome
    return "skipped"


def _attempt_in_thread(claim, owner):
    try:
        return _attempt(claim.purchase, owner, claim.absorbed)
    finally:
        connection.close()


def _attempt_all(claims, owner):
    if len(claims) == 1:
        return [_attempt(claims[0].purchase, owner, claims[0].absorbed)]
    workers = min(len(claims), MAX_PARALLEL_CALLS)
    with ThreadPoolExecutor(workers, thread_name_prefix="exchange") as pool:
        futures = [
            pool.submit(_attempt_in_thread, claim, owner) for claim in claims
        ]
    # Every call has ended; a bug in one is raised after the others
    # finished, and its purchase's lease lapses so it is tried again.
    return [future.result() for future in futures]


def _attempt(purchase, owner, absorbed):
    client_order_id = str(purchase.client_order_id)
    merged = f" (+{len(absorbed)} merged)" if absorbed else ""
    tag = (
        f"purchase #{purchase.pk}{merged} {purchase.amount.normalize()} "
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
            called = time.monotonic()
            try:
                fill = buy_from_exchange(
                    purchase.crypto_id, purchase.amount, client_order_id
                )
            except Exception as exc:
                metrics.exchange_call_counted(
                    _EXCHANGE_OUTCOMES.get(type(exc), "error"),
                    time.monotonic() - called,
                )
                raise
            metrics.exchange_call_counted("filled", time.monotonic() - called)
    except ExchangeRejected as exc:
        if services.purchase_fail(purchase_id=purchase.pk, error=str(exc)):
            metrics.purchase_finished("failed")
        logger.warning("exchange refused %s: %s; refunded", tag, exc)
        return "failed"
    except (ExchangeUnavailable, ExchangeTimeout) as exc:
        return _after_transient_failure(purchase, owner, tag, exc)
    if services.purchase_complete(purchase_id=purchase.pk):
        metrics.purchase_finished("completed")
    logger.info(
        "exchange call done in %.2fs: %s",
        time.monotonic() - started,
        tag,
    )
    return "completed"


def _after_transient_failure(purchase, owner, tag, exc):
    error = f"{type(exc).__name__}: {exc}"
    if purchase.attempts < settings.PURCHASE_MAX_ATTEMPTS:
        if services.purchase_retry_later(
            purchase_id=purchase.pk, owner=owner, error=error
        ):
            metrics.PURCHASE_RETRIES.inc()
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
        if services.purchase_complete(purchase_id=purchase.pk):
            metrics.purchase_finished("completed")
        logger.info("exchange confirms an earlier fill: %s", tag)
        return "completed"
    if services.purchase_fail(purchase_id=purchase.pk, error=error):
        metrics.purchase_finished("failed")
    return "failed"
