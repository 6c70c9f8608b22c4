"""The production web server: granian serving ``config.wsgi:application``.

``python serve.py`` is the one launch command: ``make web``, ``make run``,
the live tests, the benchmark and the Docker image all run it. Tunable
through the environment: ``HOST`` (0.0.0.0), ``PORT`` (8000),
``WEB_CONCURRENCY`` (worker processes, 2), ``WEB_THREADS`` (blocking
threads per process, the threads that run Django, 4).

Two processes of four threads, on two cores: the same eight database
connections as gunicorn's former 4x2 gthread default. Granian replaced
gunicorn because it spreads keep-alive connections evenly over its
processes, where gunicorn's threaded workers split them unevenly, and
differently at every start. bench/README.md has the comparison and its
figures.

Granian has no per-request timeout (gunicorn's ``timeout`` was not one
either for gthread workers: it killed a worker whose main loop stopped,
not a slow request). What it has, and what is set here: a worker that
dies is started again (unless it keeps dying: then the server exits),
a client gets 10 s to send a request's headers, and on SIGTERM/SIGINT
workers finish their requests and are killed after 20 s if they do not.
"""

import os
from pathlib import Path

from granian import Granian
from granian.constants import HTTPModes, Interfaces
from granian.http import HTTP1Settings

_here = Path(__file__).resolve().parent
# In the repository the app is app/; in the image this file is in it.
APP_DIR = _here / "app" if (_here / "app" / "manage.py").exists() else _here
# Like gunicorn's access log: client, time, request line, status, and
# the time taken in milliseconds (granian does not know the body size).
ACCESS_LOG_FORMAT = (
    '%(addr)s - - [%(time)s] "%(method)s %(path)s %(protocol)s" '
    "%(status)d %(dt_ms).1fms"
)


# Browsers send a few KiB of headers; 32 KiB leaves room for any cookie
# and token. (Granian reads in steps: a head is refused somewhere
# between 32 and 64 KiB.) Bodies are not read into this buffer.
MAX_HEAD_BYTES = 32 * 1024


def server():
    return Granian(
        "config.wsgi:application",
        interface=Interfaces.WSGI,
        address=os.environ.get("HOST") or "0.0.0.0",
        port=int(os.environ.get("PORT") or 8000),
        workers=int(os.environ.get("WEB_CONCURRENCY") or 2),
        blocking_threads=int(os.environ.get("WEB_THREADS") or 4),
        # A thread idle this long ends, and its database connection stays
        # open until Python's garbage collector runs: keep threads as long
        # as Django keeps a connection (DB_CONN_MAX_AGE, 600 s; granian's
        # default is 30 s, its maximum 600 s).
        blocking_threads_idle_timeout=600,
        http=HTTPModes.http1,
        websockets=False,
        # A request's head (request line and headers) is read into a
        # buffer of about this size: a longer head is refused, 431,
        # instead of holding 408 KiB (granian's default) per connection.
        http1_settings=HTTP1Settings(
            header_read_timeout=10_000, max_buffer_size=MAX_HEAD_BYTES
        ),
        log_access=True,
        log_access_format=ACCESS_LOG_FORMAT,
        respawn_failed_workers=True,
        workers_kill_timeout=20,
        working_dir=APP_DIR,
    )


if __name__ == "__main__":
    os.chdir(APP_DIR)
    server().serve()
