"""The worker's side of monitoring: its heartbeat, its work horses'
metric files, and, where no web server shares its multiprocess
directory (a worker on a machine or in a container of its own), a
metrics listener of its own on ``WORKER_METRICS_PORT``.

The listener serves this worker's counters only (its own files and its
horses'); the database's and Redis's state is on the web servers'
``/metrics``. It has no authentication: bind it
(``WORKER_METRICS_HOST``, 127.0.0.1 by default) to an address only the
monitoring network reaches.
"""

import logging
import os

from django.conf import settings
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.multiprocess import MultiProcessCollector

from monitoring import multiproc

logger = logging.getLogger("orders.worker")


class OwnFilesCollector:
    """This worker's metric files and its work horses', added up."""

    def __init__(self, path, pid):
        self.path, self.pid = path, pid

    def collect(self):
        files = multiproc.own_files(self.path, self.pid)
        return MultiProcessCollector.merge(files, accumulate=True)


def listener_start():
    """Serve this worker's metrics if ``WORKER_METRICS_PORT`` is set."""
    port = settings.WORKER_METRICS_PORT
    if port is None:
        return None
    registry = CollectorRegistry()
    registry.register(
        OwnFilesCollector(os.environ["PROMETHEUS_MULTIPROC_DIR"], os.getpid())
    )
    server, thread = start_http_server(
        port, addr=settings.WORKER_METRICS_HOST, registry=registry
    )
    logger.info(
        "worker metrics on http://%s:%s/metrics",
        settings.WORKER_METRICS_HOST,
        port,
    )
    return server


def work_horse_started(parent_pid: int) -> None:
    """In a freshly forked work horse, before the job runs."""
    multiproc.become_work_horse(parent_pid)
