"""Gunicorn for the benchmark's 'servers' phase only.

The service ships granian (``serve.py``); the 'servers' phase still
measures gunicorn beside it, with the settings the service ran gunicorn
with until then. ``bench/stack.py`` passes ``--chdir``, ``--worker-class``,
``--workers`` and ``--threads``; ``PORT`` is the bench's port.
"""

import os

wsgi_app = "config.wsgi:application"
bind = [f"0.0.0.0:{os.environ.get('PORT') or '8000'}"]
worker_connections = 1000
timeout = 30
graceful_timeout = 20
keepalive = 5
accesslog = "-"
errorlog = "-"
# Worker heartbeat files on tmpfs, as gunicorn advises for containers.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# No runtime control socket: it would be shared by every instance of one
# user ($HOME/.gunicorn/gunicorn.ctl).
control_socket_disable = True
