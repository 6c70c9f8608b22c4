"""Gunicorn settings: the one production web server command line.

Used by ``make web``, ``make run`` (``gunicorn -c gunicorn.conf.py``) and
the Docker image. Tunable through the environment: ``PORT`` (8000),
``WEB_CONCURRENCY`` (worker processes, 4), ``GUNICORN_THREADS`` (threads
per worker, 2), ``GUNICORN_TIMEOUT`` (seconds, 30).

Four processes of two threads, rather than two of four, on two cores:
the same eight database connections, but a gthread process takes every
keep-alive connection it can accept, and with two processes one of them
often holds them all and runs them on one core while the other idles.
With four, at least two processes are busy more often, not always
(``make bench``: 945 orders/s against 816 for 2x4, medians of three,
side by side; within noise of each other in the full run's server
comparison, README "Performance").
"""

import os
from pathlib import Path

_here = Path(__file__).resolve().parent
if (_here / "app" / "manage.py").exists():
    # In the repository; in the image the working directory is the app.
    chdir = str(_here / "app")

wsgi_app = "config.wsgi:application"
bind = [f"0.0.0.0:{os.environ.get('PORT') or '8000'}"]
workers = int(os.environ.get("WEB_CONCURRENCY") or 4)
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS") or 2)
# How many connections one process holds at most (gthread). A process
# that took more than its share of keep-alive connections runs them all
# on one core while the other idles; a cap spreads them.
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS") or 1000)
timeout = int(os.environ.get("GUNICORN_TIMEOUT") or 30)
graceful_timeout = 20
keepalive = 5
accesslog = "-"
errorlog = "-"
# Worker heartbeat files on tmpfs, as gunicorn advises for containers.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# No runtime control socket: it would be shared by every instance of one
# user ($HOME/.gunicorn/gunicorn.ctl), and the image's user has no home.
control_socket_disable = True
