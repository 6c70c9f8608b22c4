"""Ringing the worker: an RQ job after commit, never lost, rarely twice.

The purchase row is the record of what must be bought; the job is only a
doorbell, and any job buys everything that is ready when it starts. So a
ring is skipped while a job is already waiting in the queue: a marker
key is set (``SET NX``) with each enqueue and deleted by the job when it
starts, before it looks for work. Whatever commits before that delete
is found by the job; whatever commits after it rings again.

If Redis is down the ring is skipped (and a short circuit breaker keeps
requests from waiting on it); the sweeper in the worker rings again for
every purchase that is due, ignoring the marker.
"""

import logging
import time

import django_rq
from django.conf import settings
from django.db import transaction
from redis.exceptions import RedisError

from core.redis_calls import Line, pack
from monitoring import metrics

logger = logging.getLogger("orders.worker")

QUEUE_NAME = "default"
MARKER_KEY = "orders:doorbell:waiting"
# A marker outlives a lost job by at most this long; the sweeper covers
# the gap.
MARKER_TTL_SECONDS = 30
# After a failed ring, skip Redis for this long: the sweeper catches up.
BREAKER_SECONDS = 2.0
_breaker_open_until = 0.0
_queues = {}
_lines = {}


def _queue():
    """One queue (and connection pool) per process and Redis URL."""
    url = settings.RQ_QUEUES[QUEUE_NAME]["URL"]
    queue = _queues.get(url)
    if queue is None:
        queue = _queues[url] = django_rq.get_queue(QUEUE_NAME)
    return queue


def _marker_set(purchase_id) -> bool:
    """``SET marker NX EX``: True if no job was waiting. Sent on a
    connection of the thread's own (``core.redis_calls``): this runs
    for every large order."""
    url = settings.RQ_QUEUES[QUEUE_NAME]["URL"]
    line = _lines.get(url)
    if line is None:
        line = _lines[url] = Line(lambda: _queue().connection)
    command = pack(
        "SET", MARKER_KEY, purchase_id, "NX", "EX", MARKER_TTL_SECONDS
    )
    return line.call(command) is not None


def purchase_ring(purchase_id: int, *, force: bool = False) -> bool:
    """Make sure a job will look for ready purchases; False if Redis
    could not be reached. ``force`` enqueues even if a job is waiting."""
    global _breaker_open_until
    if time.monotonic() < _breaker_open_until:
        metrics.ring_counted("failed")
        return False
    queue = _queue()
    try:
        if not (_marker_set(purchase_id) or force):
            metrics.ring_counted("skipped")
        else:
            queue.enqueue(
                "orders.jobs.purchase_execute",
                purchase_id,
                result_ttl=300,
                failure_ttl=86400,
            )
            metrics.ring_counted("rung")
            logger.info(
                "purchase queued: purchase #%s, worker rung",
                purchase_id,
                extra={"purchase_id": purchase_id},
            )
    except RedisError as exc:
        metrics.ring_counted("failed")
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


def doorbell_answered() -> None:
    """Called by a job as it starts: later commits must ring again."""
    try:
        _queue().connection.delete(MARKER_KEY)
    except RedisError as exc:
        logger.warning("doorbell marker not cleared: %s", exc)
