"""The RQ worker class used by ``manage.py rqworker`` (settings.RQ).

It is RQ's forking worker plus two things a broker needs:
- the sweeper, in a thread of the worker's parent process, every
  ``SWEEP_INTERVAL_SECONDS``, so that a plain ``manage.py rqworker``
  keeps every purchase moving with no other process to deploy;
- staying up when Redis goes away: RQ's loop quits on most Redis errors,
  so the worker waits for Redis and starts its loop again, under a fresh
  name (the old one may be half-registered).
"""

import logging
import threading
import time
import uuid

from django.conf import settings
from django.db import close_old_connections, connection
from redis.exceptions import RedisError
from rq import Worker

from core.idempotency import idempotency_records_purge
from orders.sweeper import sweep

logger = logging.getLogger("orders.worker")

REDIS_RETRY_SECONDS = 1.0
# Idempotency records older than their TTL are deleted this often.
PURGE_INTERVAL_SECONDS = 3600.0


class SweeperThread(threading.Thread):
    def __init__(self, interval):
        super().__init__(daemon=True, name="purchase-sweeper")
        self.interval = interval
        self.stopped = threading.Event()

    def run(self):
        next_purge = 0.0
        while not self.stopped.wait(self.interval):
            try:
                close_old_connections()
                sweep()
                if time.monotonic() >= next_purge:
                    idempotency_records_purge()
                    next_purge = time.monotonic() + PURGE_INTERVAL_SECONDS
            except Exception as exc:  # noqa: BLE001 - keep sweeping
                logger.warning("sweep failed: %s", exc)
                connection.close()
        connection.close()


class PurchaseWorker(Worker):
    max_connection_wait_time = 5.0

    def __init__(self, queues, *args, connection=None, **kwargs):
        # A worker started while Redis is down waits for it instead of
        # exiting: RQ's constructor already talks to Redis.
        while connection is not None:
            try:
                connection.ping()
                break
            except RedisError as exc:
                logger.warning("waiting for Redis: %s", exc)
                time.sleep(REDIS_RETRY_SECONDS)
        super().__init__(queues, *args, connection=connection, **kwargs)

    def work(self, burst=False, *args, **kwargs):
        sweeper = None
        if not burst:
            sweeper = SweeperThread(settings.SWEEP_INTERVAL_SECONDS)
            sweeper.start()
        try:
            while True:
                try:
                    worked = super().work(burst, *args, **kwargs)
                except RedisError as exc:
                    logger.warning("worker lost Redis: %s", exc)
                    worked = False
                limited = kwargs.get("max_jobs") or kwargs.get("max_idle_time")
                if burst or limited or self._leaving:
                    return worked
                self._wait_for_redis()
                self.name = uuid.uuid4().hex
                logger.info("Redis is back; worker restarts as %s", self.name)
        finally:
            if sweeper is not None:
                sweeper.stopped.set()

    _leaving = False

    def request_stop(self, signum, frame):
        # A warm shutdown (SIGTERM, Ctrl-C) ends the loop for good.
        self._leaving = True
        super().request_stop(signum, frame)

    def _wait_for_redis(self):
        while not self._leaving:
            try:
                self.connection.ping()
                return
            except RedisError:
                time.sleep(REDIS_RETRY_SECONDS)
