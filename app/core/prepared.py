"""Server-side prepared statements for the hottest queries.

PostgreSQL plans every statement sent as text; for the order statement,
planning costs more than running it. A ``PreparedStatement`` is
``PREPARE``d once per database connection (connections persist across
requests) and then ``EXECUTE``d by name with its parameters.

A prepared statement lives in its database session: behind a pooler it
needs session pooling (PgBouncer's transaction mode would hand the
statement's name to a session that never prepared it).
"""

import re
import weakref

from django.db import DEFAULT_DB_ALIAS, connections

# Raw DB-API connection -> names prepared on it. A reconnect is a new
# connection object, so it prepares again.
_prepared = weakref.WeakKeyDictionary()
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


class PreparedStatement:
    def __init__(self, name, sql, params, *, prelude=None):
        """``sql`` uses ``%(name)s`` placeholders; ``params`` lists each
        as ``(name, PostgreSQL type)``, in the order they are declared.

        ``prelude`` is a plain statement (same placeholders) sent in the
        same message, before the ``EXECUTE``: one round trip for both.
        PostgreSQL runs the statements of one message as one transaction
        when no transaction is open, each with its own snapshot; the
        result is the last statement's."""
        self.name = name
        self.names = [param for param, _ in params]
        number = {param: i for i, param in enumerate(self.names, 1)}
        body = _PLACEHOLDER.sub(lambda m: f"${number[m.group(1)]}", sql)
        types = ", ".join(kind for _, kind in params)
        self.prepare_sql = f"PREPARE {name} ({types}) AS {body}"
        self.by_name = prelude is not None
        if self.by_name:
            named = ", ".join(f"%({param})s" for param in self.names)
            self.execute_sql = f"{prelude}; EXECUTE {name} ({named})"
        else:
            placeholders = ", ".join(["%s"] * len(self.names))
            self.execute_sql = f"EXECUTE {name} ({placeholders})"

    def fetchone(self, **values):
        """The statement's first row (or None), on a DB-API cursor of the
        request's connection: Django's cursor wrapper (query logging,
        execute wrappers) costs more here than the statement itself.
        Errors are Django's as usual, and the health check, atomic
        blocks and autocommit behave as for any other query; only
        ``connection.queries`` (DEBUG) does not list it."""
        # One lookup of the thread's connection: each attribute read
        # through ``django.db.connection`` looks it up again.
        db = connections[DEFAULT_DB_ALIAS]
        db.close_if_health_check_failed()
        db.ensure_connection()
        db.validate_thread_sharing()
        db.validate_no_broken_transaction()
        raw = db.connection
        done = _prepared.setdefault(raw, set())
        if self.by_name:
            params = values
        else:
            params = [values[name] for name in self.names]
        with db.wrap_database_errors, raw.cursor() as cursor:
            if self.name not in done:
                # Not undone by a rollback: prepared statements belong to
                # the session, not to the transaction.
                cursor.execute(self.prepare_sql)
                done.add(self.name)
            cursor.execute(self.execute_sql, params)
            return cursor.fetchone()
