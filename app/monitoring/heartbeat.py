"""Workers' heartbeats, in Redis, for ``/metrics`` on any web server.

Each worker's sweeper thread beats once a sweep (every second): one
sorted set holds, per worker, the time of its last beat. A scrape
counts the workers that beat lately. Redis rather than the metric files,
so that a web server sees the workers of every machine. Times are the
machines' wall clocks (kept in step by NTP: a skew of a second matters
little against a window of several).
"""

import os
import socket
import time

import django_rq
from django.conf import settings

KEY = "broker:workers:heartbeat"
# A worker silent for this long is forgotten.
FORGET_SECONDS = 3600


def alive_window() -> float:
    """A worker is alive if it beat within this many seconds."""
    return max(5.0, 5 * settings.SWEEP_INTERVAL_SECONDS)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def worker_beat(connection=None) -> None:
    """Record that this worker is alive; raises RedisError."""
    connection = connection or django_rq.get_connection("default")
    now = time.time()
    pipeline = connection.pipeline(transaction=False)
    pipeline.zadd(KEY, {worker_name(): now})
    pipeline.zremrangebyscore(KEY, "-inf", now - FORGET_SECONDS)
    pipeline.execute()
