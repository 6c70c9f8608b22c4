"""The RQ worker class used by ``manage.py rqworker`` (settings.RQ).

It is RQ's forking worker plus the sweeper, run in a thread of the
worker's parent process every ``SWEEP_INTERVAL_SECONDS``, so that a
plain ``manage.py rqworker`` keeps every purchase moving with no other
process to deploy.
"""

import logging
import threading

from django.conf import settings
from django.db import close_old_connections, connection
from rq import Worker

from orders.sweeper import sweep

logger = logging.getLogger("orders.worker")


class SweeperThread(threading.Thread):
    def __init__(self, interval):
        super().__init__(daemon=True, name="purchase-sweeper")
        self.interval = interval
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.wait(self.interval):
            try:
                close_old_connections()
                sweep()
            except Exception as exc:  # noqa: BLE001 - keep sweeping
                logger.warning("sweep failed: %s", exc)
                connection.close()
        connection.close()


class PurchaseWorker(Worker):
    def work(self, burst=False, *args, **kwargs):
        sweeper = None
        if not burst:
            sweeper = SweeperThread(settings.SWEEP_INTERVAL_SECONDS)
            sweeper.start()
        try:
            return super().work(burst, *args, **kwargs)
        finally:
            if sweeper is not None:
                sweeper.stopped.set()
