"""Django's PostgreSQL backend with a health check that costs no query.

With ``CONN_HEALTH_CHECKS`` Django checks a persistent connection once per
request before using it, by sending ``SELECT 1``: a round trip to the
database on every request, about a tenth of an order's time. An idle
connection's server sends nothing unless it is going away (the FATAL
message of a terminated session, or the end of the stream when the server
or a proxy closed it), so the check here asks the socket first: nothing
to read means the connection is as the last request left it, and
anything to read falls back to Django's ``SELECT 1``, which finds a dead
connection dead. A connection cut between the check and the request's
first query fails that request (503), as it would with ``SELECT 1``.
"""

import select

from django.db.backends.postgresql import base
from psycopg2.extensions import TRANSACTION_STATUS_IDLE


class DatabaseWrapper(base.DatabaseWrapper):
    def close_if_health_check_failed(self):
        if (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and self._idle_and_quiet()
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def _idle_and_quiet(self):
        """True when the connection is open, outside a transaction, and
        the server has sent nothing since the last answer."""
        connection = self.connection
        if connection.closed:
            return False
        if connection.get_transaction_status() != TRANSACTION_STATUS_IDLE:
            return False
        poller = select.poll()
        try:
            poller.register(connection.fileno(), select.POLLIN)
            return not poller.poll(0)
        except (OSError, ValueError):
            return False
