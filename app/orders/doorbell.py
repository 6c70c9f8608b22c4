"""Ringing the worker: an RQ job per purchase, after commit, never lost.

The purchase row is the record of what must be bought; the job is only a
doorbell. If Redis is down the ring is skipped (and a short circuit
breaker keeps requests from waiting on it); the sweeper in the worker
rings again for every purchase that is due.
"""

import logging
import time

import django_rq
from django.db import transaction
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

QUEUE_NAME = "default"
# After a failed ring, skip Redis for this long: the sweeper catches up.
BREAKER_SECONDS = 2.0
_breaker_open_until = 0.0


def purchase_ring(purchase_id: int) -> bool:
    """Enqueue the purchase's job; False if Redis could not be reached."""
    global _breaker_open_until
    if time.monotonic() < _breaker_open_until:
        return False
    try:
        django_rq.get_queue(QUEUE_NAME).enqueue(
            "orders.jobs.purchase_execute",
            purchase_id,
            result_ttl=300,
            failure_ttl=86400,
        )
    except RedisError as exc:
        _breaker_open_until = time.monotonic() + BREAKER_SECONDS
        logger.warning(
            "purchase #%s not rung (%s); the sweeper will ring it",
            purchase_id,
            exc,
        )
        return False
    return True


def purchase_ring_on_commit(purchase_id: int) -> None:
    transaction.on_commit(lambda: purchase_ring(purchase_id))
