"""Redis commands on the order endpoint's path, with little Python.

Every order costs a rate-limit count, and a large one a doorbell
``SET NX``. redis-py's client (and its ``register_script``) spends more
Python on each command than its round trip to Redis; a ``Line`` sends
the same commands, packed here, on a connection of its thread's own.
Kept because it is worth it: 8% fewer instructions per order than
redis-py's client (callgrind A/B in bench/README.md).

It is still redis-py underneath: the connection is a redis-py
``Connection`` made with the settings (URL, timeouts, protocol) of the
client it stands beside, and its errors are redis-py's ``RedisError``s.
A connection the server closed is replaced before the command is sent
(one poll of the socket); one that fails during a command is dropped by
redis-py, and made again by the next command. Each thread of each
process has its own, so nothing is shared across a fork.
"""

import hashlib
import os
import threading

from redis.exceptions import ConnectionError, NoScriptError, TimeoutError


def pack(*args) -> bytes:
    """A command in RESP, the protocol's array of bulk strings."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        if not isinstance(arg, bytes):
            arg = str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(parts)


def _closed(connection) -> bool:
    """Something to read before we asked: the end of the stream, or
    data no command is waiting for. Either way, not to be used."""
    try:
        return connection.can_read()
    except (ConnectionError, TimeoutError, OSError):
        return True


class Line:
    """One connection per thread to the Redis of ``client_factory()``
    (a redis-py client, read once per thread for its pool's settings)."""

    def __init__(self, client_factory):
        self._client_factory = client_factory
        self._local = threading.local()

    def _connection(self):
        local = self._local
        connection = getattr(local, "connection", None)
        if connection is None or local.pid != os.getpid():
            pool = self._client_factory().connection_pool
            connection = pool.connection_class(**pool.connection_kwargs)
            local.connection, local.pid = connection, os.getpid()
        return connection

    def call(self, packed: bytes):
        """Send one packed command, return its reply. A Redis error
        reply raises its ``ResponseError``; a dead or slow server
        raises ``ConnectionError``/``TimeoutError`` (the connection is
        then closed, and opened again by the next call). Nothing is
        retried: a command may have run before its reply was lost."""
        connection = self._connection()
        if connection._sock is not None and _closed(connection):
            # The server closed the connection (a restart, an idle
            # timeout, CLIENT KILL): start again on a new one, as
            # redis-py's pool does.
            connection.disconnect()
        connection.send_packed_command([packed], check_health=False)
        return connection.read_response()


class Script:
    """A Lua script run by its SHA1 (``EVALSHA``), loaded into Redis
    the first time it is missing there (a restarted or flushed Redis)."""

    def __init__(self, source: str):
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    def run(self, line: Line, keys, args):
        command = ("EVALSHA", self.sha, len(keys), *keys, *args)
        try:
            return line.call(pack(*command))
        except NoScriptError:
            line.call(pack("SCRIPT", "LOAD", self.source))
            return line.call(pack(*command))
