"""The Python cost of one order request, in process: a figure that two
commits can be compared by on a noisy machine.

Places the 'orders' phase's mix through Django's test client (no web
server, no network) on the bench's own database, and prints the
process's CPU time and its PostgreSQL backend's per order. Under
valgrind's callgrind, the instruction count is repeatable to well under
1%: run it with two order counts and divide the difference, so that
start-up cancels out:

    valgrind --tool=callgrind python bench/inprocess.py --orders 100
    valgrind --tool=callgrind python bench/inprocess.py --orders 300
    # (instructions of the second - of the first) / 200 = per order

From another commit's checkout, run that checkout's copy: the app on
``sys.path`` is the one beside this file.
"""

import argparse
import json
import os
import random
import sys
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "app")]

from bench.database import create_database  # noqa: E402
from bench.steady import MIX  # noqa: E402

CUSTOMERS = 50


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=1000)
    args = parser.parse_args()
    url, name = _own_database(
        os.environ.get("DATABASE_URL", "postgres://root@127.0.0.1/crypto")
    )
    create_database(url, name, recreate=True)
    os.environ.update(
        DATABASE_URL=url,
        DJANGO_ALLOWED_HOSTS="testserver",
        ORDER_RATE="1000000/min",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from accounts.services import customer_create

    call_command("migrate", verbosity=0)
    keys = [
        customer_create(name=f"c{i}", balance=Decimal("99999999")).api_key
        for i in range(CUSTOMERS)
    ]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    rng = random.Random(1)
    mix = [rng.choice(MIX) for _ in range(args.orders + CUSTOMERS)]
    bodies = [json.dumps({"crypto": c, "amount": a}) for c, a in mix]
    client = Client()

    def place(i, body):
        response = client.post(
            "/api/order/",
            body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Token {keys[i % CUSTOMERS]}",
        )
        assert response.status_code == 201, response.content

    for i, body in enumerate(bodies[:CUSTOMERS]):  # warm every path
        place(i, body)
    cpu, pg = time.process_time(), _ticks(backend)
    for i, body in enumerate(bodies[CUSTOMERS:]):
        place(i, body)
    cpu, pg = time.process_time() - cpu, _ticks(backend) - pg
    per = 1000 / args.orders
    print(
        f"orders {args.orders}: python {cpu * per:.3f} ms/order, "
        f"postgresql {pg / os.sysconf('SC_CLK_TCK') * per:.3f} ms/order"
    )


def _own_database(url):
    """The URL with its database name suffixed ``_inprocess``: dropped
    and made again at each run, never the bench's nor the service's."""
    parts = urlsplit(url)
    name = (parts.path.lstrip("/") or "crypto") + "_inprocess"
    return urlunsplit(parts._replace(path=f"/{name}")), name


def _ticks(pid):
    """CPU ticks of a process on this machine (0 if it is elsewhere)."""
    import psutil

    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return 0
    return (times.user + times.system) * os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
