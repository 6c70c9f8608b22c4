"""Is an RQ worker of this host alive? The worker container's
healthcheck (docker-compose.yml).

A worker registers itself in Redis with its host name and pid, and its
registration expires unless it keeps beating (RQ's worker TTL). Healthy:
a worker of this host is registered and its process is alive.
"""

import socket

import django_rq
from django.core.management.base import BaseCommand, CommandError
from redis.exceptions import RedisError
from rq import Worker

from monitoring.multiproc import pid_alive


class Command(BaseCommand):
    help = (
        "Exit 0 when an RQ worker of this host is registered in Redis and "
        "its process is alive; non-zero otherwise."
    )

    def handle(self, *args, **options):
        host = socket.gethostname()
        try:
            workers = Worker.all(
                connection=django_rq.get_connection("default")
            )
        except RedisError as exc:
            raise CommandError(f"Redis does not answer: {exc}") from exc
        alive = [
            worker
            for worker in workers
            if worker.hostname == host and worker.pid and pid_alive(worker.pid)
        ]
        if not alive:
            raise CommandError(f"no live worker of {host} in Redis")
        names = ", ".join(sorted(f"{w.name} (pid {w.pid})" for w in alive))
        self.stdout.write(f"alive: {names}")
