"""The gauges read when ``/metrics`` is scraped: the pools, purchases
not finished yet, the house, the queue and the workers.

They are the database's and Redis's state, read at scrape time (three
small queries of a few rows each, and one Redis pipeline), so that no
process keeps a copy that could drift, and no order pays for them.
``broker_database_up`` and ``broker_redis_up`` say whether each
answered; the gauges of one that did not are left out of the scrape.
"""

import logging
import time
from decimal import Decimal

import django_rq
from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from redis.exceptions import RedisError
from rq.job import Job
from rq.utils import utcparse

from accounts.models import House
from monitoring import heartbeat
from orders.doorbell import QUEUE_NAME
from orders.models import Pool, Purchase
from orders.pool import house_needed

logger = logging.getLogger(__name__)

P = "broker_"
UNFINISHED = (Purchase.Status.QUEUED, Purchase.Status.IN_FLIGHT)


def _gauge(name, documentation, labels=None):
    return GaugeMetricFamily(P + name, documentation, labels=labels)


class StateCollector:
    """A prometheus-client collector; registered per scrape."""

    def collect(self):
        yield from self._database()
        yield from self._redis()
        wait = settings.POOL_MAX_WAIT_SECONDS
        if wait is not None:
            yield GaugeMetricFamily(
                P + "pool_max_wait_seconds",
                "POOL_MAX_WAIT_SECONDS: the bounded wait after which the "
                "house tops a pool up.",
                value=wait,
            )

    def _database(self):
        up = _gauge(
            "database_up", "1 if PostgreSQL answered this scrape, else 0."
        )
        try:
            pools = list(
                Pool.objects.values_list(
                    "crypto_id", "pending_total", "waiting_since",
                    "crypto__price",
                )  # fmt: skip
            )
            unfinished = list(
                Purchase.objects.filter(status__in=UNFINISHED)
                .values("status")
                .annotate(count=Count("id"), oldest=Min("created_at"))
                .order_by()
            )
            balance = (
                House.objects.filter(pk=House.ID)
                .values_list("balance", flat=True)
                .first()
            )
        except DatabaseError as exc:
            logger.warning("metrics: the database did not answer: %s", exc)
            connection.close()
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        now = timezone.now()
        yield from self._pools(pools, now)
        yield from self._purchases(unfinished, now)
        yield from self._house(pools, balance or Decimal(0), now)

    def _pools(self, pools, now):
        pending = _gauge(
            "pool_pending_usd",
            "USD of the pending orders in a crypto's pool.",
            ["crypto"],
        )
        age = _gauge(
            "pool_oldest_order_age_seconds",
            "How long the oldest pending order of a crypto's pool has "
            "waited (0 when the pool is empty).",
            ["crypto"],
        )
        for crypto, total, since, _ in pools:
            pending.add_metric([crypto], float(total))
            waited = (now - since).total_seconds() if since else 0.0
            age.add_metric([crypto], max(waited, 0.0))
        yield pending
        yield age

    def _purchases(self, unfinished, now):
        count = _gauge(
            "purchases",
            "Exchange purchases not finished yet, by status (queued: "
            "waiting for a worker; in_flight: a worker holds it).",
            ["status"],
        )
        age = _gauge(
            "purchase_oldest_unfinished_age_seconds",
            "Age of the oldest purchase not finished yet (0 when none).",
        )
        by_status = {row["status"]: row for row in unfinished}
        oldest = [row["oldest"] for row in unfinished]
        for status in UNFINISHED:
            row = by_status.get(status)
            count.add_metric([status], row["count"] if row else 0)
        waited = (now - min(oldest)).total_seconds() if oldest else 0.0
        age.add_metric([], max(waited, 0.0))
        yield count
        yield age

    def _house(self, pools, balance, now):
        """The house's balance, and what it lacks to top up every pool
        past its bounded wait (as ``GET /api/house/`` says)."""
        needed = house_needed(
            [(total, since, price) for _, total, since, price in pools],
            now=now,
        )
        yield GaugeMetricFamily(
            P + "house_balance_usd",
            "The house's USD balance.",
            value=float(balance),
        )
        yield GaugeMetricFamily(
            P + "house_short_by_usd",
            "USD the house lacks to top up every pool past its bounded "
            "wait (0 when it can).",
            value=float(max(needed - balance, Decimal(0))),
        )

    def _redis(self):
        up = _gauge("redis_up", "1 if Redis answered this scrape, else 0.")
        queue = django_rq.get_queue(QUEUE_NAME)
        try:
            pipeline = queue.connection.pipeline(transaction=False)
            pipeline.llen(queue.key)
            pipeline.lindex(queue.key, 0)
            pipeline.zrange(heartbeat.KEY, 0, -1, withscores=True)
            depth, first, beats = pipeline.execute()
            enqueued = None
            if first is not None:
                enqueued = queue.connection.hget(
                    Job.key_for(first.decode()), "enqueued_at"
                )
        except RedisError as exc:
            logger.warning("metrics: Redis did not answer: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        now = time.time()
        yield GaugeMetricFamily(
            P + "queue_jobs",
            "RQ jobs waiting in the queue.",
            value=depth,
        )
        waited = 0.0
        if enqueued:
            waited = max(now - utcparse(enqueued.decode()).timestamp(), 0.0)
        yield GaugeMetricFamily(
            P + "queue_oldest_job_age_seconds",
            "How long the queue's oldest job has waited (0 when empty).",
            value=waited,
        )
        window = heartbeat.alive_window()
        last = max((score for _, score in beats), default=None)
        yield GaugeMetricFamily(
            P + "workers_alive",
            f"Workers whose sweeper beat in the last {window:g} s.",
            value=sum(1 for _, score in beats if now - score <= window),
        )
        if last is not None:
            yield GaugeMetricFamily(
                P + "worker_last_heartbeat_age_seconds",
                "Seconds since the last heartbeat of any worker.",
                value=max(now - last, 0.0),
            )
