"""The sweeper: rings every purchase the doorbell missed.

A purchase is committed with its orders, so whatever happened to Redis
or to a worker, the database knows what is left to buy: queued purchases
that are due and were not rung lately (Redis was down, a retry's backoff
ran out) and in-flight ones whose worker stopped renewing its lease
(killed). It also flushes a pool left full by a web process that died
between an order and the pool's flush, and, for the bounded wait, flushes
every pool whose oldest order waited ``POOL_MAX_WAIT_SECONDS`` with the
house buying the rest. One sweeper at a time acts, under a PostgreSQL
advisory lock (and every flush locks its pool's row besides).
"""

import logging
import time

from django.db import DatabaseError, connection, transaction

from monitoring import metrics
from orders import pool, services
from orders.doorbell import purchase_ring

logger = logging.getLogger("orders.worker")

# Any fixed 64-bit number; names the sweeper's advisory lock.
SWEEPER_LOCK_ID = 0x5357454550


def _flush_full_pools():
    """Flush the pools a dead web process left full. In a savepoint: a
    flush that fails (books out of step, say) must not stop the rings."""
    try:
        with transaction.atomic():
            flushed = pool.pools_flush_full()
    except DatabaseError as exc:
        logger.error("sweeper could not flush the full pools: %s", exc)
        return
    if flushed:
        logger.warning("sweeper flushed full pools into %s", flushed)


# A pool the house cannot top up is logged at most this often.
SHORT_LOG_SECONDS = 60.0
_short_logged = {}


def _flush_overdue_pools():
    """The bounded wait: flush each pool whose oldest order waited
    ``POOL_MAX_WAIT_SECONDS``, the house paying the rest. Each in a
    transaction of its own, so one that fails stops no other."""
    for crypto_id in pool.pools_overdue():
        try:
            with transaction.atomic():
                outcome = pool.pool_flush_overdue(crypto_id=crypto_id)
        except DatabaseError as exc:
            logger.error(
                "sweeper could not top up pool %s: %s", crypto_id, exc
            )
            continue
        if outcome is None:
            continue
        if outcome.purchase_id is not None:
            _short_logged.pop(crypto_id, None)
            transaction.on_commit(metrics.HOUSE_TOP_UPS.inc)
            logger.info(
                "bounded wait: pool %s flushed into purchase #%s, the "
                "house paying $%s",
                crypto_id,
                outcome.purchase_id,
                outcome.house_total,
                extra={"purchase_id": outcome.purchase_id},
            )
        elif time.monotonic() >= _short_logged.get(crypto_id, 0.0):
            _short_logged[crypto_id] = time.monotonic() + SHORT_LOG_SECONDS
            logger.warning(
                "bounded wait: pool %s is overdue but the house is short "
                "by $%s; it waits for a house deposit",
                crypto_id,
                outcome.short_by,
            )


def sweep() -> int:
    """Ring what is due; returns how many purchases were rung."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_try_advisory_xact_lock(%s)", [SWEEPER_LOCK_ID]
            )
            if not cursor.fetchone()[0]:
                return 0
        _flush_full_pools()
        _flush_overdue_pools()
        due = services.purchases_due()
        # One job takes everything that is ready, so one ring will do.
        if not due or not purchase_ring(due[0], force=True):
            return 0
        services.purchases_mark_rung(purchase_ids=due)
        transaction.on_commit(lambda: metrics.SWEEPER_RERINGS.inc(len(due)))
        logger.info("sweeper rang for %d purchase(s): %s", len(due), due)
    return len(due)
