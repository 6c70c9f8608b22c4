"""Wait until the default database accepts connections."""

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.db.utils import OperationalError


class Command(BaseCommand):
    help = "Wait until the default database accepts connections."

    def add_arguments(self, parser):
        parser.add_argument(
            "--timeout",
            type=float,
            default=60,
            help="seconds to wait before giving up (default 60)",
        )
        parser.add_argument(
            "--interval",
            type=float,
            default=1,
            help="seconds between attempts (default 1)",
        )
        parser.add_argument(
            "--database",
            default="default",
            help="the database alias to wait for (default: default)",
        )

    def handle(self, *args, **options):
        connection = connections[options["database"]]
        timeout = options["timeout"]
        started = time.monotonic()
        self.stdout.write("Waiting for the database...")
        while True:
            try:
                connection.ensure_connection()
            except OperationalError as error:
                waited = time.monotonic() - started
                if waited >= timeout:
                    raise CommandError(
                        f"Database unavailable after {waited:.0f}s: "
                        f"{str(error).strip()}"
                    ) from error
                self.stdout.write(
                    f"Database unavailable, waiting ({waited:.0f}s of "
                    f"{timeout:.0f}s)..."
                )
                connection.close()
                time.sleep(min(options["interval"], timeout - waited))
            else:
                connection.close()
                self.stdout.write(self.style.SUCCESS("Database available."))
                return
