"""The RQ worker class used by ``manage.py rqworker`` (settings.RQ).

It is RQ's forking worker plus two things a broker needs:
- the sweeper, in a thread of the worker's parent process, every
  ``SWEEP_INTERVAL_SECONDS``, so that a plain ``manage.py rqworker``
  keeps every purchase moving with no other process to deploy;
- staying up when Redis goes away: RQ's loop quits on most Redis errors,
  so the worker waits for Redis and starts its loop again, under a fresh
  name (the old one may be half-registered); and a Redis that goes
  silent (a host gone without a reset) is noticed within
  ``DEQUEUE_TIMEOUT_SECONDS`` plus 10 s, not RQ's 415 s;
- running only the service's own jobs. A job is data in Redis, and RQ
  would import and call whatever function it names, after unpickling
  whatever it holds: so jobs are JSON (``JOB_SERIALIZER``, also the
  queue's), never unpickled, and a job whose function is not one of
  ``orders.jobs`` fails without running.
"""

import inspect
import logging
import os
import threading
import time
import uuid

from django.conf import settings
from django.db import close_old_connections, connection
from redis.exceptions import RedisError
from rq import Worker

from core.idempotency import idempotency_records_purge
from monitoring import heartbeat, metrics
from monitoring import worker as monitoring
from orders import jobs
from orders.sweeper import sweep

logger = logging.getLogger("orders.worker")

JOB_SERIALIZER = "rq.serializers.JSONSerializer"
REDIS_RETRY_SECONDS = 1.0
# How long one wait for a job blocks. RQ sets the connection's socket
# timeout to this plus 10 s; with its default (405 s) a Redis gone
# silent held every purchase for about 7 minutes. An idle worker asks
# again each time: one cheap BLPOP per worker every 5 s.
DEQUEUE_TIMEOUT_SECONDS = 5
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
                heartbeat.worker_beat()
            except Exception as exc:  # noqa: BLE001 - Redis down: no beat
                logger.debug("no heartbeat: %s", exc)
            try:
                close_old_connections()
                sweep()
                if time.monotonic() >= next_purge:
                    idempotency_records_purge()
                    next_purge = time.monotonic() + PURGE_INTERVAL_SECONDS
            except Exception as exc:  # noqa: BLE001 - keep sweeping
                metrics.SWEEPER_ERRORS.inc()
                logger.warning("sweep failed: %s", exc)
                connection.close()
        connection.close()


class JobRefused(Exception):
    """A job that names no function of the service's own."""


def service_job(func_name) -> bool:
    """True when ``func_name`` names a public function defined in
    ``orders.jobs`` (not one it imports)."""
    module, _, name = (func_name or "").rpartition(".")
    if module != jobs.__name__ or name.startswith("_"):
        return False
    function = getattr(jobs, name, None)
    return inspect.isfunction(function) and function.__module__ == module


class PurchaseWorker(Worker):
    max_connection_wait_time = 5.0

    @property
    def dequeue_timeout(self) -> int:
        return DEQUEUE_TIMEOUT_SECONDS

    def __init__(self, queues, *args, connection=None, **kwargs):
        # Whatever the command line says (rqworker defaults to pickle).
        kwargs["serializer"] = JOB_SERIALIZER
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
            monitoring.listener_start()
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

    def main_work_horse(self, job, queue):
        monitoring.work_horse_started(os.getppid())
        return super().main_work_horse(job, queue)

    def perform_job(self, job, queue, execution):
        """In the work horse: a job that is not the service's fails, in
        RQ's usual way (its failure recorded), without being run."""
        try:
            func_name = job.func_name
            allowed = job.instance is None and service_job(func_name)
        except Exception as exc:  # noqa: BLE001 - an unreadable job
            func_name, allowed = f"(unreadable: {exc})", False
        if not allowed:
            logger.error("job %s refused: %s is not a job", job.id, func_name)

            def refuse():
                raise JobRefused(f"{func_name} is not one of the jobs")

            job.perform = refuse
        return super().perform_job(job, queue, execution)

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
