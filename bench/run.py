"""The benchmark of the order service (issue #5): ``make bench``.

It starts the production web server (``python serve.py``: granian)
and RQ workers (``manage.py rqworker default``) against a database and a
Redis database of its own, seeds 1,000 customers, and runs phases:

- ping:    ``GET /api/ping/`` (DRF, no database): the ceiling.
- orders:  ``POST /api/order/``, a mix of small and large orders over five
           cryptos, at 1, 8, 32 and 64 connections.
- hot:     the same load, every order a small ABAN one: one hot pool.
- big:     the mix again, with 1,000,000 completed orders in the tables.
- burst:   2,000 orders in 30 s at the real exchange latency, 2 workers:
           exchange calls and the time until every order is completed.
- servers: granian vs gunicorn gthread and sync at 32 connections
           (opt-in).

``manage.py audit_ledger`` runs after every phase. A table is printed,
and JSON and a PNG plot are written under ``bench/results/``. See
``bench/README.md``.
"""

import argparse
import hashlib
import http.client
import itertools
import json
import os
import random
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
# Where the service runs from: the repository, or (by default) a copy of
# its code taken when the run starts, so that edits made while it runs
# do not change what it measures. main() sets both.
TREE = ROOT
MANAGE = ROOT / "app" / "manage.py"
VENV_BIN = Path(sys.executable).parent

THRESHOLD = Decimal("10")
MAX_BALANCE = "99999999.99"
PRICES = {
    "ABAN": ("Aban Tether", Decimal("4")),
    "BTC": ("Bitcoin", Decimal("65000")),
    "ETH": ("Ethereum", Decimal("3200")),
    "SOL": ("Solana", Decimal("150")),
    "DOGE": ("Dogecoin", Decimal("0.15")),
}
# (crypto, small amount, large amount); keep in step with bench/order.lua.
MIX = [
    ("ABAN", "0.5", "5"),
    ("BTC", "0.00005", "0.001"),
    ("ETH", "0.001", "0.01"),
    ("SOL", "0.02", "0.5"),
    ("DOGE", "20", "200"),
]
# The orders of the 'big' phase's history: (crypto, amount), ten of one
# crypto to a completed purchase of at least the threshold.
HISTORY = [
    ("ABAN", "0.5"),
    ("BTC", "0.0001"),
    ("ETH", "0.001"),
    ("SOL", "0.02"),
    ("DOGE", "20"),
]
HISTORY_ORDERS_PER_PURCHASE = 10
ALL_PHASES = ["ping", "orders", "hot", "steady", "big", "burst", "servers"]
DEFAULT_PHASES = ["ping", "orders", "hot", "steady", "big", "burst"]
# The 'steady' phase's offered loads, as fractions of the measured maximum.
STEADY_FRACTIONS = (0.25, 0.5, 0.75)
# Web servers compared by the 'servers' phase: ("granian" or a gunicorn
# worker class, processes, threads per process). "granian" is the shipped
# server (serve.py, WEB_CONCURRENCY x WEB_THREADS; 2x4 is its default);
# gunicorn, the server it replaced, is a requirement of the benchmark
# only, run with bench/gunicorn.conf.py.
SERVER_CONFIGS = [
    ("gthread", 4, 2),
    ("gthread", 2, 4),
    ("gthread", 2, 8),
    ("granian", 2, 4),
    ("granian", 4, 2),
    ("gthread", 2, 1),
    ("sync", 2, 1),
    ("sync", 4, 1),
    ("sync", 6, 1),
]
OPERATOR = "bench-operator"


def server_configs(text):
    """``granian:2x4,gthread:4x2`` -> [("granian", 2, 4), ...]."""
    configs = []
    for item in text.split(","):
        kind, _, shape = item.strip().partition(":")
        workers, _, threads = shape.partition("x")
        known = {kind for kind, _, _ in SERVER_CONFIGS}
        if kind not in known or not workers.isdigit() or not threads.isdigit():
            raise argparse.ArgumentTypeError(
                f"{item!r}: expected KIND:PROCESSESxTHREADS, KIND one of "
                f"{', '.join(sorted(known))}"
            )
        configs.append((kind, int(workers), int(threads)))
    return configs


_start = time.monotonic()


def say(message):
    elapsed = time.monotonic() - _start
    print(f"[bench {elapsed:6.1f}s] {message}", flush=True)


class BenchError(Exception):
    """A failure that ends the run with one line, not a traceback."""


def order_total(symbol, amount):
    total = PRICES[symbol][1] * Decimal(amount)
    return total.quantize(Decimal("0.01"), rounding=ROUND_CEILING)


# --- arguments ------------------------------------------------------------


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="make bench ARGS=...",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: short durations, fewer orders (< 2 minutes)",
    )
    parser.add_argument(
        "--phases",
        default=",".join(DEFAULT_PHASES),
        help=f"comma list of {','.join(ALL_PHASES)}, or 'all'",
    )
    parser.add_argument(
        "--duration",
        type=int,
        help="seconds of load per concurrency level (default 10; quick 2)",
    )
    parser.add_argument(
        "--connections",
        default="1,8,32,64",
        help="concurrency levels (wrk connections)",
    )
    parser.add_argument(
        "--wrk-threads",
        type=int,
        default=1,
        help="wrk threads (capped at the connections)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs per load point; the median by throughput is reported",
    )
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument(
        "--big-orders",
        type=int,
        help="existing orders of the 'big' phase (default 1,000,000; "
        "quick 100,000)",
    )
    parser.add_argument(
        "--burst-orders",
        type=int,
        help="orders of the burst (default 2000; quick 200)",
    )
    parser.add_argument(
        "--burst-seconds",
        type=float,
        help="the burst's length (default 30; quick 10)",
    )
    parser.add_argument("--burst-workers", type=int, default=2)
    parser.add_argument(
        "--burst-timeout",
        type=float,
        help="longest wait for the burst's orders to complete, from its "
        "last order (default 600; quick 30)",
    )
    parser.add_argument(
        "--exchange-latency",
        type=float,
        default=5.0,
        help="EXCHANGE_LATENCY_SECONDS of the simulated exchange",
    )
    parser.add_argument(
        "--servers",
        type=server_configs,
        default=SERVER_CONFIGS,
        metavar="KIND:PxT,...",
        help="the 'servers' phase's configurations, in order, e.g. "
        "granian:2x4,gthread:4x2,granian:2x4 (a kind may repeat, for "
        "an A/B that alternates); default: all of SERVER_CONFIGS",
    )
    parser.add_argument(
        "--server-connections",
        type=int,
        default=32,
        help="connections of the 'servers' comparison",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy every web worker during the orders phase "
        "(needs py-spy in the virtualenv; not a requirement)",
    )
    parser.add_argument(
        "--profile-connections",
        type=int,
        default=32,
        help="the orders level at which --profile samples",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=0,
        help="before each load run, wait up to this many seconds for "
        "other processes on the machine to calm down (shared machines)",
    )
    parser.add_argument(
        "--quiet-threshold",
        type=float,
        default=25,
        help="'quiet': other processes use under this percent of a core",
    )
    parser.add_argument(
        "--no-snapshot",
        dest="snapshot",
        action="store_false",
        help="run the service from the repository itself instead of a "
        "copy of its code taken at the start (then an edit during the run "
        "is measured by the phases after it, and fails the run)",
    )
    parser.add_argument(
        "--reuse-db",
        action="store_true",
        help="keep the bench database instead of re-creating it",
    )
    parser.add_argument(
        "--name",
        help="results file name under bench/results/ (default: 'bench', "
        "or 'quick' with --quick)",
    )
    parser.add_argument(
        "--no-plot", action="store_true", help="skip the PNG plot"
    )
    args = parser.parse_args(argv)
    quick = args.quick
    defaults = {
        "duration": 2 if quick else 10,
        "big_orders": 100_000 if quick else 1_000_000,
        "burst_orders": 200 if quick else 2000,
        "burst_seconds": 10.0 if quick else 30.0,
        "burst_timeout": 30.0 if quick else 600.0,
        "name": "quick" if quick else "bench",
    }
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    names = [p.strip() for p in args.phases.split(",") if p.strip()]
    if names == ["all"]:
        names = list(ALL_PHASES)
    unknown = sorted(set(names) - set(ALL_PHASES))
    if unknown:
        parser.error(f"unknown phase(s): {', '.join(unknown)}")
    args.phases = [p for p in ALL_PHASES if p in names]
    args.connections = [int(c) for c in args.connections.split(",")]
    return args


# --- where: a database and a Redis database of the bench's own ----------


def bench_database_url(url):
    """The URL with its database name suffixed ``_bench``."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/") or "crypto"
    if not name.endswith("_bench"):
        name = f"{name}_bench"
    return urlunsplit(parts._replace(path=f"/{name}")), name


def bench_redis_url(url):
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/9"))


def redacted(url):
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def connect(url, autocommit=True):
    import psycopg2

    conn = psycopg2.connect(url)
    conn.autocommit = autocommit
    return conn


def create_database(url, name, recreate):
    admin_url = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    conn = connect(admin_url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            exists = cur.fetchone() is not None
            if exists and recreate:
                say(f"dropping database {name} (the bench's own)")
                cur.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
                exists = False
            if not exists:
                say(f"creating database {name}")
                cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()


# --- processes ------------------------------------------------------------


def proc_table():
    """{pid: (ppid, comm, cpu ticks, start time)} of every process."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        close = stat.rindex(")")
        comm = stat[stat.index("(") + 1 : close]
        fields = stat[close + 2 :].split()
        table[int(entry.name)] = (
            int(fields[1]),
            comm,
            int(fields[11]) + int(fields[12]),
            int(fields[19]),
        )
    return table


def descendants(pid, table):
    children = {}
    for child, row in table.items():
        children.setdefault(row[0], []).append(child)
    found, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(children.get(child, []))
    return found


def proc_status(pid):
    """VmHWM and VmRSS of a process in kB (None when it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            text = handle.read()
    except OSError:
        return None
    values = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            values[key] = int(rest.split()[0])
    return values


class Proc:
    """A child process in its own session, with its log in a file."""

    def __init__(self, name, argv, env, log_dir):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self.log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(
            argv,
            cwd=TREE,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid = self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def stop(self, grace, signals=(signal.SIGTERM,)):
        """Ask it to stop; after ``grace`` seconds kill it and whatever
        it started (each by its pid, checked to be the same process)."""
        table = proc_table()
        family = [
            (pid, table[pid][3])
            for pid in descendants(self.pid, table)
            if pid in table
        ]
        for signum in signals:
            if self.alive():
                self.popen.send_signal(signum)
                time.sleep(0.2)
        try:
            self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
        table = proc_table()
        for pid, started in family:
            if pid in table and table[pid][3] == started:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.log.close()

    def tail(self, lines=20):
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


class Sampler(threading.Thread):
    """Peak memory (VmHWM, VmRSS) of the web and worker processes,
    sampled every 0.25 s, per phase and overall."""

    def __init__(self, stack):
        super().__init__(daemon=True, name="memory-sampler")
        self.stack = stack
        self.stopped = threading.Event()
        self.lock = threading.Lock()
        self.phase = "setup"
        self.peaks = {}  # phase -> role -> kB
        self.web_total = {}  # phase -> kB, all web workers at once
        self.pids = {}  # role -> set of pids seen

    def set_phase(self, phase):
        with self.lock:
            self.phase = phase

    def _note(self, phase, role, pid, kb):
        bucket = self.peaks.setdefault(phase, {})
        bucket[role] = max(bucket.get(role, 0), kb)
        self.pids.setdefault(role, set()).add(pid)

    def sample(self):
        roots = self.stack.roots()
        if not roots:
            return
        table = proc_table()
        with self.lock:
            phase = self.phase
            web_sum = 0
            for role, pid in roots:
                status = proc_status(pid)
                if status:
                    self._note(phase, f"{role} parent", pid, status["VmHWM"])
                for child in descendants(pid, table):
                    status = proc_status(child)
                    if not status:
                        continue
                    kind = "worker" if role == "web" else "horse"
                    self._note(phase, f"{role} {kind}", child, status["VmHWM"])
                    if role == "web":
                        web_sum += status["VmHWM"]
            self.web_total[phase] = max(self.web_total.get(phase, 0), web_sum)

    def run(self):
        while not self.stopped.wait(0.25):
            try:
                self.sample()
            except Exception as exc:  # noqa: BLE001 - keep sampling
                say(f"memory sampler: {exc}")

    def report(self):
        with self.lock:
            overall = {}
            for bucket in self.peaks.values():
                for role, kb in bucket.items():
                    overall[role] = max(overall.get(role, 0), kb)
            return {
                "unit": "MiB (VmHWM, the peak resident set of a process)",
                "overall": {
                    r: round(kb / 1024, 1) for r, kb in overall.items()
                },
                "web_workers_sum_peak": round(
                    max(self.web_total.values(), default=0) / 1024, 1
                ),
                "processes_seen": {r: len(p) for r, p in self.pids.items()},
                "by_phase": {
                    phase: {r: round(kb / 1024, 1) for r, kb in b.items()}
                    for phase, b in self.peaks.items()
                },
            }


class Stack:
    """The web server and the RQ workers, as ``make web`` and ``make
    worker`` start them."""

    def __init__(self, env, log_dir):
        self.env = env
        self.log_dir = log_dir
        self.web = None
        self.web_config = None
        self.workers = []
        self.port = int(env["PORT"])
        self.base_url = f"http://127.0.0.1:{self.port}"
        # The code each start of the web server loaded: a run is only
        # comparable with itself if the code stood still.
        self.code_seen = []
        self._lock = threading.Lock()

    def roots(self):
        with self._lock:
            roots = []
            if self.web and self.web.alive():
                roots.append(("web", self.web.pid))
            roots += [("rq", w.pid) for w in self.workers if w.alive()]
            return roots

    def start_web(self, worker_class="granian", workers=None, threads=None):
        """``python serve.py`` (granian), the production server, with
        the environment's WEB_CONCURRENCY and WEB_THREADS unless given;
        or gunicorn with that worker class (the 'servers' phase)."""
        self.code_seen.append(code_fingerprint())
        env = dict(self.env)
        if workers:
            env["WEB_CONCURRENCY"] = str(workers)
        if threads:
            env["WEB_THREADS"] = str(threads)
        workers = env.get("WEB_CONCURRENCY") or "2 (default)"
        threads = env.get("WEB_THREADS") or "4 (default)"
        if worker_class == "granian":
            argv = [sys.executable, str(TREE / "serve.py")]
        else:
            argv = [
                str(VENV_BIN / "gunicorn"),
                *("-c", str(TREE / "bench" / "gunicorn.conf.py")),
                *("--chdir", str(TREE / "app")),
                *("--worker-class", worker_class),
                *("--workers", workers.split()[0]),
                *("--threads", threads.split()[0]),
            ]
        self.web_config = {
            "worker_class": worker_class,
            "WEB_CONCURRENCY": workers,
            "WEB_THREADS": threads,
        }
        with self._lock:
            self.web = Proc("web", argv, env, self.log_dir)
        deadline = time.monotonic() + 60
        while True:
            if not self.web.alive():
                raise BenchError(
                    f"the web server exited:\n{self.web.tail()}\n"
                    f"(log: {self.web.log_path})"
                )
            status, _ = http_json("GET", f"{self.base_url}/api/health/")
            if status == 200:
                break
            if time.monotonic() > deadline:
                raise BenchError(
                    f"the web server did not answer /api/health/ 200 "
                    f"(last: {status}); log: {self.web.log_path}"
                )
            time.sleep(0.2)
        # Every worker process up, not only the first to answer.
        wanted = int(workers.split()[0])
        while len(descendants(self.web.pid, proc_table())) < wanted:
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)

    def web_workers(self):
        if not self.web:
            return []
        table = proc_table()
        return [p for p in descendants(self.web.pid, table)]

    def stop_web(self):
        with self._lock:
            web, self.web = self.web, None
        if web:
            web.stop(grace=25)

    def start_workers(self, count):
        import redis

        argv = [sys.executable, str(MANAGE), "rqworker", "default"]
        with self._lock:
            for _ in range(count):
                name = f"worker{len(self.workers) + 1}"
                self.workers.append(Proc(name, argv, self.env, self.log_dir))
        # Ready when registered in Redis (a worker that starts late
        # would make the phase look slower than it is).
        client = redis.Redis.from_url(self.env["REDIS_URL"])
        deadline = time.monotonic() + 60
        while client.scard("rq:workers") < count:
            dead = [w for w in self.workers if not w.alive()]
            if dead:
                raise BenchError(
                    f"rqworker exited:\n{dead[0].tail()}\n"
                    f"(log: {dead[0].log_path})"
                )
            if time.monotonic() > deadline:
                raise BenchError("the RQ workers did not register in time")
            time.sleep(0.1)

    def stop_workers(self):
        """Stop at once: a cold shutdown (a second SIGTERM kills the work
        horse), then kill what is left; the phase's state is reset."""
        with self._lock:
            workers, self.workers = self.workers, []
        for worker in workers:
            worker.stop(grace=5, signals=(signal.SIGTERM, signal.SIGTERM))

    def stop(self):
        self.stop_workers()
        self.stop_web()


# --- HTTP -----------------------------------------------------------------


def http_json(method, url, body=None, token=None, timeout=30):
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Token {token}"
    request = urllib.request.Request(
        url, data=data, method=method, headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, err.read()[:500]
    except (OSError, http.client.HTTPException) as err:
        return None, str(err)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the database's state -------------------------------------------------


class Books:
    """Seeding and resetting the bench database, in SQL."""

    def __init__(self, url):
        self.url = url
        self.conn = connect(url)

    def query(self, sql, params=None):
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            if cur.description is None:
                return None
            return cur.fetchall()

    def scalar(self, sql, params=None):
        return self.query(sql, params)[0][0]

    def service_tables(self):
        """The tables the order flow writes: every table of the orders,
        exchange and core apps but the listed cryptos and their pools
        (new tables of those apps are reset too)."""
        rows = self.query(
            "SELECT tablename FROM pg_tables WHERE schemaname = "
            "current_schema() AND (tablename LIKE 'orders\\_%%' OR "
            "tablename LIKE 'exchange\\_%%' OR tablename LIKE 'core\\_%%')"
        )
        keep = {"orders_crypto", "orders_pool"}
        return sorted(r[0] for r in rows if r[0] not in keep)

    def ensure_cryptos(self):
        for symbol, (name, price) in PRICES.items():
            self.query(
                "INSERT INTO orders_crypto (symbol, name, price) "
                "VALUES (%s, %s, %s) ON CONFLICT (symbol) DO UPDATE "
                "SET price = EXCLUDED.price",
                [symbol, name, price],
            )
        self.query(
            "INSERT INTO orders_pool (crypto_id, pending_total) "
            "SELECT symbol, 0 FROM orders_crypto ON CONFLICT DO NOTHING"
        )

    def wipe_everyone(self):
        """No customer, no operator, no order: a clean slate."""
        tables = ["auth_user", "accounts_ledgerentry", "accounts_apitoken"]
        tables += ["accounts_customer", *self.service_tables()]
        tables += ["accounts_houseledgerentry", "accounts_householding"]
        self.query(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        self.query(
            "UPDATE orders_pool SET pending_total = 0, waiting_since = NULL"
        )
        self.query("UPDATE accounts_house SET balance = 0")

    def reset(self):
        """Orders, purchases, exchange calls, idempotency records and the
        ledger emptied; every customer back to the largest balance with
        one deposit, so the audit holds and no order lacks funds."""
        tables = ["accounts_ledgerentry", *self.service_tables()]
        tables += ["accounts_houseledgerentry", "accounts_householding"]
        self.query(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        self.query(
            "UPDATE orders_pool SET pending_total = 0, waiting_since = NULL"
        )
        self.query("UPDATE accounts_house SET balance = 0")
        self.query("UPDATE accounts_customer SET balance = %s", [MAX_BALANCE])
        self.query(
            "INSERT INTO accounts_ledgerentry "
            "(customer_id, kind, amount, balance_after, order_id, "
            "created_at) SELECT id, 'deposit', balance, balance, NULL, "
            "now() FROM accounts_customer ORDER BY id"
        )
        # Statistics for the customers only. An emptied table is left
        # unanalyzed: statistics of an empty table make the planner
        # choose sequential scans, and the plans of the foreign-key
        # checks, cached per connection, would keep scanning the whole
        # table as it grows for the rest of the phase (a fresh table in
        # production is analyzed again as it grows).
        self.query("ANALYZE accounts_customer")

    def seed_history(self, count):
        """``count`` completed orders, ten to a completed purchase, over
        the last 30 days, with their debits, the customers' balances
        lowered to match and the simulated exchange's fills: what the
        audit expects of real history. Set-based SQL, FK triggers off."""
        group = HISTORY_ORDERS_PER_PURCHASE
        purchases = count // group
        count = purchases * group
        step = 30 * 86400 / count
        mix = [
            (k, symbol, Decimal(amount), PRICES[symbol][1])
            for k, (symbol, amount) in enumerate(HISTORY)
        ]
        values = ", ".join(
            f"({k}, '{s}', {a}, {p}, {order_total(s, a)})"
            for k, s, a, p in mix
        )
        kinds = len(mix)
        superuser = self.scalar(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
        )
        conn = connect(self.url, autocommit=False)
        try:
            with conn.cursor() as cur:
                if superuser:
                    cur.execute("SET LOCAL session_replication_role = replica")
                cur.execute("SET LOCAL synchronous_commit = off")
                cur.execute(
                    "CREATE TEMP TABLE bench_mix (k int PRIMARY KEY, "
                    "symbol text, amount numeric, price numeric, "
                    "total numeric) ON COMMIT DROP"
                )
                cur.execute(f"INSERT INTO bench_mix VALUES {values}")
                params = {
                    "n": count,
                    "p": purchases,
                    "g": group,
                    "kinds": kinds,
                    "step": step,
                }
                cur.execute(
                    """
                    INSERT INTO orders_purchase (
                        id, crypto_id, amount, total, status,
                        client_order_id, attempts, lease_owner,
                        lease_expires_at, next_attempt_at, enqueued_at,
                        last_error, created_at, updated_at, completed_at)
                    SELECT p, m.symbol, m.amount * %(g)s, m.total * %(g)s,
                           'completed', gen_random_uuid(), 1, '', NULL,
                           NULL, t.at, '', t.at, t.at + interval '5 s',
                           t.at + interval '5 s'
                    FROM generate_series(1, %(p)s) AS p
                    JOIN bench_mix m ON m.k = p %% %(kinds)s
                    CROSS JOIN LATERAL (
                        SELECT now() - interval '30 days'
                               + p * %(g)s * %(step)s * interval '1 s' AS at
                    ) t
                    """,
                    params,
                )
                cur.execute(
                    """
                    INSERT INTO orders_order (
                        id, customer_id, crypto_id, amount, price, total,
                        status, purchase_id, created_at, updated_at)
                    SELECT o, c.ids[1 + (o - 1) %% c.n], m.symbol,
                           m.amount, m.price, m.total, 'completed',
                           (o - 1) / %(g)s + 1,
                           now() - interval '30 days'
                               + o * %(step)s * interval '1 s',
                           now() - interval '30 days'
                               + ((o - 1) / %(g)s + 1) * %(g)s * %(step)s
                                 * interval '1 s' + interval '5 s'
                    FROM generate_series(1, %(n)s) AS o
                    CROSS JOIN (
                        SELECT array_agg(id ORDER BY id) AS ids,
                               count(*)::int AS n
                        FROM accounts_customer) c
                    JOIN bench_mix m
                      ON m.k = ((o - 1) / %(g)s + 1) %% %(kinds)s
                    """,
                    params,
                )
                cur.execute("""
                    INSERT INTO accounts_ledgerentry (
                        id, customer_id, kind, amount, balance_after,
                        order_id, created_at)
                    SELECT b.base + o.id, o.customer_id, 'order', -o.total,
                           cu.balance - SUM(o.total) OVER (
                               PARTITION BY o.customer_id ORDER BY o.id),
                           o.id, o.created_at
                    FROM orders_order o
                    JOIN accounts_customer cu ON cu.id = o.customer_id
                    CROSS JOIN (
                        SELECT COALESCE(MAX(id), 0) AS base
                        FROM accounts_ledgerentry) b
                    ORDER BY o.id
                    """)
                cur.execute("""
                    UPDATE accounts_customer cu
                    SET balance = cu.balance - s.spent
                    FROM (SELECT customer_id, SUM(total) AS spent
                          FROM orders_order GROUP BY customer_id) s
                    WHERE s.customer_id = cu.id
                    """)
                cur.execute("""
                    INSERT INTO exchange_simulatedexchangeorder (
                        client_order_id, crypto, amount, calls, filled_at,
                        created_at)
                    SELECT client_order_id, crypto_id, amount, 1,
                           completed_at, created_at
                    FROM orders_purchase ORDER BY id
                    """)
                for table in (
                    "orders_order",
                    "orders_purchase",
                    "accounts_ledgerentry",
                    "exchange_simulatedexchangeorder",
                ):
                    cur.execute(
                        f"SELECT setval(pg_get_serial_sequence("
                        f"'{table}', 'id'), (SELECT MAX(id) FROM {table}))"
                    )
            conn.commit()
        finally:
            conn.close()
        self.query(
            "ANALYZE orders_order, orders_purchase, accounts_ledgerentry, "
            "accounts_customer, exchange_simulatedexchangeorder"
        )
        return {"orders": count, "purchases": purchases}

    def order_counts(self):
        rows = self.query(
            "SELECT status, count(*) FROM orders_order GROUP BY status"
        )
        return {status: n for status, n in rows}

    def exchange_calls(self):
        rows, calls, filled = self.query(
            "SELECT count(*), COALESCE(SUM(calls), 0), count(filled_at) "
            "FROM exchange_simulatedexchangeorder"
        )[0]
        return {
            "client_orders": rows,
            "buy_calls": int(calls),
            "filled": filled,
        }

    def close(self):
        self.conn.close()


def audit(env, phase):
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(MANAGE), "audit_ledger"],
        cwd=TREE,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    seconds = time.monotonic() - started
    output = (result.stdout + result.stderr).strip()
    ok = result.returncode == 0
    say(
        f"audit_ledger after {phase}: {'OK' if ok else 'FAILED'} "
        f"({seconds:.1f}s)"
    )
    if not ok:
        print(output[-3000:], file=sys.stderr)
    return {
        "ok": ok,
        "exit_code": result.returncode,
        "seconds": round(seconds, 2),
        "output": output[-2000:],
    }


# --- load with wrk ----------------------------------------------------------


def ensure_wrk():
    wrk = shutil.which("wrk")
    if wrk:
        return wrk
    if os.geteuid() != 0:
        raise BenchError(
            "wrk is not installed; install it (Debian: "
            "`sudo apt-get install -y wrk`) and run again"
        )
    say("installing wrk (apt-get install -y wrk)")
    install = [
        "apt-get",
        "install",
        "-y",
        "-q",
        "-o",
        "DPkg::Lock::Timeout=300",
        "wrk",
    ]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if subprocess.run(install, env=env, stdin=subprocess.DEVNULL).returncode:
        subprocess.run(
            ["apt-get", "update", "-q", "-o", "DPkg::Lock::Timeout=300"],
            env=env,
            stdin=subprocess.DEVNULL,
        )
        subprocess.run(install, env=env, stdin=subprocess.DEVNULL, check=True)
    wrk = shutil.which("wrk")
    if not wrk:
        raise BenchError("wrk is still missing after apt-get install")
    return wrk


def _postgres_database(pid):
    """The database a PostgreSQL backend serves, from its process title
    ('postgres: user dbname host(port) state'); '' for others."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            title = handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
    words = title.split()
    if not words or words[0] != "postgres:":
        return ""
    # Debian names the cluster first: 'postgres: 15/main: user db ...'.
    words = [word for word in words[1:] if not word.endswith(":")]
    return words[1] if len(words) >= 2 else ""


def cpu_snapshot(ctx):
    """CPU ticks so far of every process, by what it is: the web server,
    the RQ workers, PostgreSQL serving the bench database, PostgreSQL for
    anyone else, Redis; and the whole machine's busy time."""
    table = proc_table()
    role_of = {}
    for role, pid in ctx.stack.roots():
        for member in [pid, *descendants(pid, table)]:
            role_of[member] = role
    procs = {}
    for pid, (_ppid, comm, ticks, started) in table.items():
        role = role_of.get(pid)
        if pid == os.getpid():
            role = "bench"
        elif role is None:
            if comm.startswith("postgres"):
                database = _postgres_database(pid)
                role = "pg" if database == ctx.database else "pg other"
            elif comm.startswith("redis-server"):
                role = "redis"
            else:
                role = "rest"
        procs[pid] = (role, ticks, started)
    with open("/proc/stat") as handle:
        fields = [int(v) for v in handle.readline().split()[1:]]
    return {
        "procs": procs,
        "busy": sum(fields[:8]) - fields[3] - fields[4],
        "children": resource.getrusage(resource.RUSAGE_CHILDREN),
        "at": time.monotonic(),
    }


def cpu_delta(before, after):
    """Percent of one core each kind of process used in between (the
    machine has os.cpu_count() cores). 'other' is the machine's busy time
    that none of the named ones account for: other people's work."""
    ticks = os.sysconf("SC_CLK_TCK")
    wall = after["at"] - before["at"]
    used = {"web": 0, "rq": 0, "pg": 0, "pg other": 0, "redis": 0}
    used["bench"] = 0
    for pid, (role, spent, started) in after["procs"].items():
        old = before["procs"].get(pid)
        if old and old[2] == started:
            spent -= old[1]
        if role in used:
            used[role] += spent
    used = {k: v / ticks for k, v in used.items()}
    ru0, ru1 = before["children"], after["children"]
    used["wrk"] = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    busy = (after["busy"] - before["busy"]) / ticks
    used["machine"] = busy
    named = sum(v for k, v in used.items() if k != "machine")
    used["other"] = max(0.0, busy - named)
    return {k: round(100 * v / wall, 1) for k, v in used.items()}


def worker_connections(ctx):
    """Established connections to the web port held by each web worker
    process (keep-alive connections stay with the worker that took
    them)."""
    port = f":{ctx.stack.port:04X}"
    inodes = set()
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as handle:
                rows = handle.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[1].endswith(port) and fields[3] == "01":
                inodes.add(fields[9])
    counts = []
    for pid in ctx.stack.web_workers():
        held = 0
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:[") and link[8:-1] in inodes:
                held += 1
        counts.append(held)
    return counts


def wait_for_quiet(ctx):
    """With --quiet-wait, wait (at most that long) until processes other
    than the bench's use under --quiet-threshold percent of one core, so
    that a shared machine's other work does not skew a run."""
    limit = ctx.args.quiet_wait
    if not limit:
        return 0
    started = time.monotonic()
    while True:
        before = cpu_snapshot(ctx)
        time.sleep(1)
        used = cpu_delta(before, cpu_snapshot(ctx))
        other = used["other"] + used["pg other"]
        waited = time.monotonic() - started
        if other < ctx.args.quiet_threshold or waited > limit:
            if waited > 1.5:
                say(f"waited {waited:.0f}s for a quiet machine ({other:.0f}%)")
            return round(waited - 1, 1)
        time.sleep(1)


def wrk_run(
    ctx,
    script,
    path,
    conns,
    duration,
    script_args=(),
    profile=None,
    quiet=True,
):
    threads = max(1, min(ctx.args.wrk_threads, conns))
    argv = [
        ctx.wrk,
        f"-t{threads}",
        f"-c{conns}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "-s",
        str(BENCH / script),
        f"{ctx.stack.base_url}{path}",
    ]
    if script_args:
        argv += ["--", *script_args]
    waited = wait_for_quiet(ctx) if quiet else 0
    spies = start_profile(ctx, duration, profile) if profile else None
    before = cpu_snapshot(ctx)
    wrk = subprocess.Popen(
        argv,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # How wrk's connections spread over the web workers, a second in.
    time.sleep(min(1.0, duration / 2))
    spread = worker_connections(ctx)
    try:
        stdout, stderr = wrk.communicate(timeout=duration + 120)
    except subprocess.TimeoutExpired:
        wrk.kill()
        stdout, stderr = wrk.communicate()
    result = subprocess.CompletedProcess(argv, wrk.returncode, stdout, stderr)
    after = cpu_snapshot(ctx)
    if spies:
        finish_profile(ctx, spies, profile)
    line = next(
        (
            line
            for line in result.stdout.splitlines()
            if line.startswith("BENCH_JSON ")
        ),
        None,
    )
    if result.returncode or line is None:
        raise BenchError(
            f"wrk failed ({result.returncode}):\n{result.stdout}\n"
            f"{result.stderr}"
        )
    data = json.loads(line.removeprefix("BENCH_JSON "))
    seconds = data["duration_us"] / 1e6
    socket_errors = data["socket_errors"]
    # Non-2xx answers are counted by the script; socket errors and
    # timeouts are requests that got no answer at all.
    failed = data["bad_status"] + sum(
        socket_errors[k] for k in ("connect", "read", "write", "timeout")
    )
    ok = data["requests"] - data["bad_status"]
    lat = data["latency_us"]
    run = {
        "connections": conns,
        "wrk_threads": threads,
        "seconds": round(seconds, 2),
        "requests": data["requests"],
        "ok": ok,
        "errors": failed,
        "socket_errors": socket_errors,
        "rps": round(ok / seconds, 1),
        "latency_ms": {
            k: round(lat[k] / 1000, 2)
            for k in ("p50", "p90", "p99", "p999", "mean", "max")
        },
        "cpu_percent": cpu_delta(before, after),
        "connections_per_web_worker": spread,
    }
    run["cpu_ms_per_request"] = cost_per_request(run)
    if waited:
        run["waited_for_quiet_seconds"] = waited
    if data["bad_sample"]:
        run["error_sample"] = data["bad_sample"]
    return run


# The processes whose CPU an order (or a ping) costs.
COST_ROLES = ("web", "pg", "redis", "rq")


def cost_per_request(run):
    """CPU milliseconds each kind of process spent per answered request:
    the figure that survives a noisy machine, unlike requests/s."""
    if not run["rps"]:
        return {role: None for role in COST_ROLES}
    cpu = run["cpu_percent"]
    return {role: round(cpu[role] * 10 / run["rps"], 3) for role in COST_ROLES}


def say_run(label, run):
    lat = run["latency_ms"]
    cpu = run["cpu_percent"]
    say(
        f"{label:7} c={run['connections']:<3} {run['rps']:8.1f} req/s  "
        f"p50 {lat['p50']:7.2f} ms  p99 {lat['p99']:8.2f} ms  "
        f"errors {run['errors']}  cpu% web {cpu['web']:.0f} "
        f"pg {cpu['pg']:.0f} wrk {cpu['wrk']:.0f} rq {cpu['rq']:.0f} "
        f"other {cpu['other'] + cpu['pg other']:.0f} "
        f"machine {cpu['machine']:.0f}  conns/worker "
        f"{'/'.join(map(str, run['connections_per_web_worker']))}"
    )
    cost = run["cpu_ms_per_request"]
    if cost["web"] is not None:
        say(
            f"        CPU ms per request: web {cost['web']:.3f} "
            f"pg {cost['pg']:.3f} redis {cost['redis']:.3f} "
            f"rq {cost['rq']:.3f}"
        )
    if run.get("error_sample"):
        say(f"        first bad answer: {run['error_sample'][:200]}")


# --- profiling (optional) -------------------------------------------------


def start_profile(ctx, duration, profile):
    """py-spy on every web worker process for the run; ``profile`` is
    (output directory, label, extra py-spy flags)."""
    out_dir, label, flags = profile
    spy = VENV_BIN / "py-spy"
    if not spy.exists():
        say("--profile: py-spy is not in the virtualenv; skipped")
        return None
    spies = []
    seconds = max(1, duration - 1)
    for pid in ctx.stack.web_workers():
        out = out_dir / f"profile-{label}-{pid}.txt"
        argv = [str(spy), "record", "--pid", str(pid)]
        argv += ["--duration", str(seconds), "--rate", "100"]
        argv += ["--format", "raw", "--output", str(out), *flags]
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        spies.append((proc, out))
    say(f"py-spy ({label}): recording {len(spies)} web workers")
    return spies


def _frame_name(frame):
    """'func (path/to/file.py:12)' -> 'func (file path, short)'."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/app/", "python3.11/"):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    return f"{name} ({where})"


def finish_profile(ctx, spies, profile):
    _, label, _ = profile
    inclusive, leaf = {}, {}
    total = 0
    files = []
    for proc, out in spies:
        _, err = proc.communicate(timeout=60)
        if proc.returncode or not out.exists():
            say(f"py-spy failed: {err.strip()[-300:]}")
            continue
        files.append(str(out))
        for line in out.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack:
                continue
            count = int(count)
            total += count
            frames = [_frame_name(f) for f in stack.split(";")]
            for name in set(frames):
                inclusive[name] = inclusive.get(name, 0) + count
            leaf[frames[-1]] = leaf.get(frames[-1], 0) + count
    if not total:
        return

    def top(counts, n):
        ranked = sorted(counts.items(), key=lambda kv: -kv[1])[:n]
        return [
            {"frame": name, "percent": round(100 * c / total, 1)}
            for name, c in ranked
        ]

    profiles = ctx.results.setdefault("profile", {})
    profiles[label] = {
        "samples": total,
        "raw": files,
        "top_inclusive": top(inclusive, 80),
        "top_self": top(leaf, 30),
    }
    say(f"py-spy ({label}): {total} samples; top self frames:")
    for item in profiles[label]["top_self"][:8]:
        say(f"   {item['percent']:5.1f}%  {item['frame']}")


# --- phases ---------------------------------------------------------------


class Context:
    def __init__(self, args, env, stack, books, wrk, keys_file, log_dir):
        self.args = args
        self.database = urlsplit(env["DATABASE_URL"]).path.lstrip("/")
        self.env = env
        self.stack = stack
        self.books = books
        self.wrk = wrk
        self.keys_file = keys_file
        self.log_dir = log_dir
        self.results = {"phases": {}}
        self.failures = []

    def phase(self, name):
        return self.results["phases"].setdefault(name, {})

    def audit(self, name):
        result = audit(self.env, name)
        self.phase(name)["audit"] = result
        if not result["ok"]:
            self.failures.append(f"audit_ledger failed after {name}")
        return result

    def reset(self, workers=1):
        """Stop the workers, empty their queue and the order tables,
        start the workers again."""
        import redis

        self.stack.stop_workers()
        redis.Redis.from_url(self.env["REDIS_URL"]).flushdb()
        self.books.reset()
        if workers:
            self.stack.start_workers(workers)

    def note_errors(self, name, runs):
        bad = sum(r["errors"] for r in runs)
        if bad:
            self.failures.append(f"{name}: {bad} request(s) failed")


def setup_customers(ctx):
    """The operator, through the management command; 1,000 customers
    with the largest balance, through the API. Their keys go to a file
    for the wrk script."""
    password = secrets.token_urlsafe(18)
    # A name of this run's own: the command leaves an existing user (of
    # an earlier run on a reused database) and its password alone.
    operator = f"{OPERATOR}-{secrets.token_hex(4)}"
    env = dict(
        ctx.env,
        DJANGO_SUPERUSER_USERNAME=operator,
        DJANGO_SUPERUSER_PASSWORD=password,
    )
    subprocess.run(
        [sys.executable, str(MANAGE), "create_demo_operator"],
        cwd=TREE,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        check=True,
    )
    base = ctx.stack.base_url
    status, body = http_json(
        "POST",
        f"{base}/api/token/",
        {"username": operator, "password": password},
    )
    if status != 200:
        raise BenchError(f"POST /api/token/ answered {status}: {body}")
    token = body["token"]

    def create(i):
        status, body = http_json(
            "POST",
            f"{base}/api/customer/",
            {"name": f"bench customer {i}", "balance": MAX_BALANCE},
            token=token,
        )
        if status != 201:
            raise BenchError(f"POST /api/customer/ answered {status}: {body}")
        return body["api_key"]

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        keys = list(pool.map(create, range(1, ctx.args.customers + 1)))
    fd = os.open(ctx.keys_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(keys) + "\n")
    seconds = time.monotonic() - started
    say(f"created {len(keys)} customers through the API in {seconds:.1f}s")
    ctx.results["setup"] = {
        "customers": len(keys),
        "customer_create_seconds": round(seconds, 1),
    }
    return keys


def warm_up(ctx):
    seconds = 1 if ctx.args.quick else 3
    say(f"warming up ({seconds}s ping, {seconds}s orders at 8 connections)")
    warm = {"quiet": False}
    wrk_run(ctx, "ping.lua", "/api/ping/", 8, seconds, **warm)
    wrk_run(
        ctx, "order.lua", "/api/order/", 8, seconds, [ctx.keys_file], **warm
    )


def wrk_point(ctx, label, script, path, conns, script_args=(), profile=None):
    """One point of a curve: ``--repeat`` runs, the median by throughput
    reported (all of them kept under 'attempts'). Repeats smooth over
    how keep-alive connections happened to spread over the workers."""
    attempts = []
    for i in range(ctx.args.repeat):
        run = wrk_run(
            ctx,
            script,
            path,
            conns,
            ctx.args.duration,
            script_args,
            profile=profile if i == 0 else None,
        )
        say_run(label, run)
        attempts.append(run)
    if len(attempts) == 1:
        return attempts[0]
    ranked = sorted(attempts, key=lambda run: run["rps"])
    chosen = dict(ranked[len(ranked) // 2])
    chosen["attempts"] = [
        {
            "rps": run["rps"],
            "p50_ms": run["latency_ms"]["p50"],
            "p99_ms": run["latency_ms"]["p99"],
            "connections_per_web_worker": run["connections_per_web_worker"],
            "other_cpu_percent": run["cpu_percent"]["other"],
            "cpu_ms_per_request": run["cpu_ms_per_request"],
        }
        for run in attempts
    ]
    chosen["ok_all_attempts"] = sum(run["ok"] for run in attempts)
    chosen["errors"] = sum(run["errors"] for run in attempts)
    say(
        f"{label:7} c={conns:<3} median of {len(attempts)}: "
        f"{chosen['rps']:.1f} req/s (runs: "
        f"{', '.join(str(run['rps']) for run in attempts)})"
    )
    return chosen


def phase_ping(ctx):
    runs = []
    for conns in ctx.args.connections:
        runs.append(wrk_point(ctx, "ping", "ping.lua", "/api/ping/", conns))
    ctx.phase("ping")["runs"] = runs
    ctx.note_errors("ping", runs)


def order_series(ctx, name, mode):
    runs = []
    extra_ok = extra_conns = 0
    existing = sum(ctx.books.order_counts().values())
    for conns in ctx.args.connections:
        profile = None
        if (
            ctx.args.profile
            and name == "orders"
            and conns == ctx.args.profile_connections
        ):
            profile = (ctx.log_dir, "active", [])
        run = wrk_point(
            ctx,
            name,
            "order.lua",
            "/api/order/",
            conns,
            [ctx.keys_file, mode],
            profile=profile,
        )
        runs.append(run)
        if profile:
            # Once more, sampling only the thread that holds the GIL:
            # where the CPU goes, not the waits. Not in the table.
            extra = wrk_run(
                ctx,
                "order.lua",
                "/api/order/",
                conns,
                ctx.args.duration,
                [ctx.keys_file, mode],
                profile=(ctx.log_dir, "gil", ["--gil"]),
            )
            extra_ok += extra["ok"]
            extra_conns += conns
    phase = ctx.phase(name)
    phase["runs"] = runs
    phase["mode"] = mode
    counts = ctx.books.order_counts()
    phase["orders_in_db"] = counts
    # Every 201 is an order in the database; a few more may be there,
    # answered after wrk stopped reading.
    answered = sum(r.get("ok_all_attempts", r["ok"]) for r in runs)
    answered += extra_ok
    stored = sum(counts.values()) - existing
    slack = sum(r["connections"] for r in runs) * ctx.args.repeat
    slack += extra_conns
    if not answered <= stored <= answered + slack:
        ctx.failures.append(
            f"{name}: {answered} orders answered 201 but {stored} stored"
        )
    ctx.note_errors(name, runs)
    ping = {
        r["connections"]: r["rps"] for r in ctx.phase("ping").get("runs", [])
    }
    for run in runs:
        if ping.get(run["connections"]):
            run["vs_ping"] = round(run["rps"] / ping[run["connections"]], 3)


def phase_orders(ctx):
    ctx.reset()
    order_series(ctx, "orders", "mix")
    ctx.audit("orders")


def phase_hot(ctx):
    ctx.reset()
    order_series(ctx, "hot", "hot")
    ctx.audit("hot")


def phase_steady(ctx, keys):
    """Orders at a constant offered rate (open loop, bench/steady.py) of
    25%, 50% and 75% of the maximum that wrk measured at 32 connections
    (measured here if the 'orders' phase did not run): p50, p99 and
    p99.9 counted from when each request was due."""
    from steady import steady_run

    best = [
        run
        for run in ctx.phase("orders").get("runs", [])
        if run["connections"] == 32
    ]
    if best:
        maximum = best[0]["rps"]
    else:
        ctx.reset()
        run = wrk_point(
            ctx,
            "max",
            "order.lua",
            "/api/order/",
            32,
            [ctx.keys_file, "mix"],
        )
        maximum = run["rps"]
    ctx.reset()
    points = []
    for fraction in STEADY_FRACTIONS:
        wait_for_quiet(ctx)
        before = cpu_snapshot(ctx)
        point = steady_run(
            host="127.0.0.1",
            port=ctx.stack.port,
            keys=keys,
            rate=maximum * fraction,
            seconds=ctx.args.duration,
        )
        point["cpu_percent"] = cpu_delta(before, cpu_snapshot(ctx))
        point["rps"] = point["achieved_rps"]
        point["cpu_ms_per_request"] = cost_per_request(point)
        point["fraction_of_max"] = fraction
        lat = point["latency_ms"]
        say(
            f"steady  {fraction:.0%} of {maximum:.0f}/s: offered "
            f"{point['offered_rps']}/s, answered {point['achieved_rps']}/s  "
            f"p50 {lat['p50']} ms  p99 {lat['p99']} ms  p99.9 "
            f"{lat['p999']} ms  max {lat['max']} ms  errors "
            f"{point['errors']}  cpu% other "
            f"{point['cpu_percent']['other']:.0f}"
        )
        points.append(point)
    phase = ctx.phase("steady")
    phase["max_rps"] = maximum
    phase["points"] = points
    ctx.note_errors("steady", points)
    ctx.audit("steady")


def phase_big(ctx):
    ctx.reset(workers=0)
    count = ctx.args.big_orders
    say(f"seeding {count:,} completed orders (SQL)")
    started = time.monotonic()
    seeded = ctx.books.seed_history(count)
    seconds = time.monotonic() - started
    say(
        f"seeded {seeded['orders']:,} orders in {seeded['purchases']:,} "
        f"purchases in {seconds:.1f}s"
    )
    ctx.phase("big")["seed"] = dict(seeded, seconds=round(seconds, 1))
    before = ctx.audit("big")
    ctx.phase("big")["audit_before_load"] = ctx.phase("big").pop("audit")
    if not before["ok"]:
        ctx.failures.append("audit_ledger failed on the seeded history")
    ctx.stack.start_workers(1)
    order_series(ctx, "big", "mix")
    ctx.audit("big")


def burst_orders(count):
    """Half small, half large, over the five cryptos, shuffled."""
    orders = []
    for i in range(count):
        symbol, small, large = MIX[i % len(MIX)]
        amount = small if (i // len(MIX)) % 2 == 0 else large
        orders.append((symbol, amount))
    random.Random(5).shuffle(orders)
    return orders


def naive_exchange_calls(rows):
    """One call per large order, one per pool flush, as the original
    design would make them, from the orders in the order they came."""
    calls = 0
    pools = {}
    for _id, symbol, total in rows:
        if total >= THRESHOLD:
            calls += 1
            continue
        pools[symbol] = pools.get(symbol, 0) + total
        if pools[symbol] >= THRESHOLD:
            calls += 1
            pools[symbol] = 0
    return calls


def send_burst(ctx, keys, orders, seconds, senders=16):
    """POST the orders at an even pace over ``seconds``."""
    host, port = "127.0.0.1", ctx.stack.port
    count = len(orders)
    start = time.monotonic() + 0.2
    counter = itertools.count()
    results = [None] * count
    rng = random.Random(6)
    chosen = [rng.choice(keys) for _ in orders]

    def sender():
        conn = http.client.HTTPConnection(host, port, timeout=30)
        while True:
            i = next(counter)
            if i >= count:
                break
            due = start + i * seconds / count
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            symbol, amount = orders[i]
            body = json.dumps({"crypto": symbol, "amount": amount})
            headers = {
                "Authorization": f"Token {chosen[i]}",
                "Content-Type": "application/json",
            }
            sent = time.monotonic()
            try:
                conn.request("POST", "/api/order/", body, headers)
                answer = conn.getresponse()
                answer.read()
                status = answer.status
                if answer.getheader("Connection", "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=30)
                status = None
            results[i] = (status, time.monotonic() - sent, sent - due)
        conn.close()

    threads = [threading.Thread(target=sender) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, time.monotonic() - start


def phase_burst(ctx, keys):
    args = ctx.args
    ctx.reset(workers=args.burst_workers)
    orders = burst_orders(args.burst_orders)
    say(
        f"burst: {len(orders)} orders over {args.burst_seconds:g}s, "
        f"{args.burst_workers} workers, exchange latency "
        f"{args.exchange_latency:g}s"
    )
    results, sent_seconds = send_burst(ctx, keys, orders, args.burst_seconds)
    statuses = {}
    for status, _, _ in results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    latencies = sorted(r[1] for r in results)
    lateness = max(r[2] for r in results)
    ok = statuses.get("201", 0)
    say(
        f"burst: sent in {sent_seconds:.1f}s, answers {statuses}, "
        f"request p99 {1000 * latencies[int(0.99 * (len(latencies) - 1))]:.0f}"
        " ms"
    )
    if ok != len(orders):
        ctx.failures.append(f"burst: {len(orders) - ok} order(s) refused")

    # Wait until no order waits for the exchange. Small orders left in a
    # pool below the threshold stay pending by design.
    books = ctx.books
    sent_at = time.monotonic()
    last_report = sent_at
    drained = False
    while True:
        counts = books.order_counts()
        submitted = counts.get("submitted", 0)
        if submitted == 0:
            drained = True
            break
        now = time.monotonic()
        if now - sent_at > args.burst_timeout:
            break
        if now - last_report >= 10:
            calls = books.exchange_calls()
            say(
                f"burst: {now - sent_at:5.0f}s after the last order: "
                f"{counts.get('completed', 0)} completed, {submitted} "
                f"submitted, {counts.get('pending', 0)} pending; "
                f"{calls['buy_calls']} exchange calls"
            )
            last_report = now
        time.sleep(0.5)
    waited = time.monotonic() - sent_at
    counts = books.order_counts()
    calls = books.exchange_calls()
    (
        first_created,
        last_created,
        last_completed,
    ) = books.query(
        "SELECT min(created_at), max(created_at), "
        "max(updated_at) FILTER (WHERE status = 'completed') "
        "FROM orders_order"
    )[0]
    completion = books.query(
        "SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY "
        "extract(epoch FROM updated_at - created_at)), "
        "max(extract(epoch FROM updated_at - created_at)) "
        "FROM orders_order WHERE status = 'completed'"
    )[0]
    purchases = books.query(
        "SELECT count(*), count(*) FILTER (WHERE status = 'completed'), "
        "count(*) FILTER (WHERE status IN ('queued', 'in_flight')) "
        "FROM orders_purchase"
    )[0]
    rows = books.query(
        "SELECT id, crypto_id, total FROM orders_order ORDER BY id"
    )
    naive = naive_exchange_calls(rows)
    large = sum(1 for _, _, total in rows if total >= THRESHOLD)
    drain = None
    if drained and last_completed and last_created:
        drain = (last_completed - last_created).total_seconds()
    projected = None
    if not drained:
        done = counts.get("completed", 0)
        rate = done / max(waited + args.burst_seconds, 1)
        if rate > 0:
            projected = round(counts.get("submitted", 0) / rate + waited)
    burst = {
        "orders": len(orders),
        "seconds": args.burst_seconds,
        "workers": args.burst_workers,
        "exchange_latency_seconds": args.exchange_latency,
        "sent_seconds": round(sent_seconds, 1),
        "max_send_lateness_seconds": round(lateness, 2),
        "answers": statuses,
        "request_latency_ms": {
            "p50": round(1000 * latencies[len(latencies) // 2], 1),
            "p99": round(
                1000 * latencies[int(0.99 * (len(latencies) - 1))], 1
            ),
            "max": round(1000 * latencies[-1], 1),
        },
        "drained": drained,
        "waited_seconds": round(waited, 1),
        "orders_by_status": counts,
        "left_in_pools": counts.get("pending", 0),
        "large_orders": large,
        "purchases": {
            "total": purchases[0],
            "completed": purchases[1],
            "unfinished": purchases[2],
        },
        "exchange": calls,
        "naive_exchange_calls": naive,
        "naive_exchange_seconds_at_workers": round(
            naive * args.exchange_latency / args.burst_workers, 1
        ),
        "last_order_to_last_completion_seconds": (
            round(drain, 2) if drain is not None else None
        ),
        "first_order_to_last_completion_seconds": (
            round((last_completed - first_created).total_seconds(), 2)
            if drained and last_completed
            else None
        ),
        "order_completion_seconds": {
            "p50": round(completion[0][0], 2) if completion[0] else None,
            "p99": round(completion[0][1], 2) if completion[0] else None,
            "max": round(completion[1], 2) if completion[1] else None,
        },
        "projected_seconds_to_drain": projected,
    }
    ctx.phase("burst").update(burst)
    if drained:
        say(
            f"burst: drained; {calls['buy_calls']} exchange calls "
            f"(naive {naive}), last order -> last completion "
            f"{drain:.1f}s"
        )
    else:
        say(
            f"burst: NOT drained after {waited:.0f}s: "
            f"{counts.get('submitted', 0)} orders still submitted; "
            f"{calls['buy_calls']} exchange calls so far (naive {naive})"
            + (f"; projected ~{projected}s" if projected else "")
        )
    ctx.stack.stop_workers()
    ctx.audit("burst")


def phase_servers(ctx):
    args = ctx.args
    conns = args.server_connections
    configs = []
    for worker_class, workers, threads in args.servers:
        label = f"{worker_class} {workers}x{threads}"
        say(f"servers: restarting the web server as {label}")
        ctx.stack.stop_web()
        ctx.sampler.set_phase(f"servers {label}")
        ctx.stack.start_web(worker_class, workers, threads)
        warm = {"quiet": False}
        wrk_run(ctx, "ping.lua", "/api/ping/", 8, 1, **warm)
        wrk_run(ctx, "order.lua", "/api/order/", 8, 1, [ctx.keys_file], **warm)
        ping = wrk_point(ctx, "ping", "ping.lua", "/api/ping/", conns)
        ctx.reset()
        orders = wrk_point(
            ctx,
            "orders",
            "order.lua",
            "/api/order/",
            conns,
            [ctx.keys_file, "mix"],
        )
        orders["vs_ping"] = round(orders["rps"] / ping["rps"], 3)
        memory = ctx.sampler.report()["by_phase"].get(f"servers {label}", {})
        configs.append(
            {
                "worker_class": worker_class,
                "WEB_CONCURRENCY": workers,
                "WEB_THREADS": threads,
                "ping": ping,
                "orders": orders,
                "web_worker_peak_mib": memory.get("web worker"),
            }
        )
        ctx.note_errors(f"servers {label}", [ping, orders])
    ctx.phase("servers")["connections"] = conns
    ctx.phase("servers")["configs"] = configs
    ctx.audit("servers")


# --- report ---------------------------------------------------------------


def spread(run):
    return "/".join(map(str, run.get("connections_per_web_worker", [])))


def cost_text(run):
    cost = run.get("cpu_ms_per_request")
    if not cost or cost["web"] is None:
        return "-"
    return "/".join(f"{cost[role]:.2f}" for role in COST_ROLES)


def table_lines(results):
    phases = results["phases"]
    lines = []
    head = (
        f"{'phase':8} {'conns':>5} {'req/s':>9} {'p50 ms':>8} "
        f"{'p99 ms':>9} {'errors':>7} {'vs ping':>8}  "
        f"{'cpu% web/pg/wrk/other':>22}  {'conns/worker':>12}  "
        f"{'CPU ms/req web/pg/redis/rq':>27}"
    )
    lines += [head, "-" * len(head)]
    for name in ("ping", "orders", "hot", "big"):
        for run in phases.get(name, {}).get("runs", []):
            lat = run["latency_ms"]
            cpu = run["cpu_percent"]
            ratio = run.get("vs_ping")
            lines.append(
                f"{name:8} {run['connections']:>5} {run['rps']:>9.1f} "
                f"{lat['p50']:>8.2f} {lat['p99']:>9.2f} "
                f"{run['errors']:>7} "
                f"{(f'{ratio:.2f}' if ratio else '-'):>8}  "
                f"{cpu['web']:>7.0f}/{cpu['pg']:.0f}/{cpu['wrk']:.0f}/"
                f"{cpu['other'] + cpu['pg other']:<4.0f}"
                f"{spread(run):>10}  {cost_text(run):>27}"
            )
    steady = phases.get("steady", {})
    if steady.get("points"):
        lines.append("")
        lines.append(
            f"steady (open loop, latency from when each order was due), "
            f"max {steady['max_rps']:.0f} orders/s:"
        )
        for point in steady["points"]:
            lat = point["latency_ms"]
            lines.append(
                f"  {point['fraction_of_max']:>4.0%} offered "
                f"{point['offered_rps']:>7.1f}/s answered "
                f"{point['achieved_rps']:>7.1f}/s  p50 {lat['p50']:>7.2f}  "
                f"p99 {lat['p99']:>8.2f}  p99.9 {lat['p999']:>8.2f} ms  "
                f"errors {point['errors']}  CPU ms/req {cost_text(point)}"
            )
    big = phases.get("big", {})
    if big.get("seed"):
        seed = big["seed"]
        lines.append(
            f"big: {seed['orders']:,} existing orders in "
            f"{seed['purchases']:,} purchases, seeded in {seed['seconds']}s"
        )
    burst = phases.get("burst")
    if burst and "orders" in burst:
        lines.append("")
        lines.append(
            f"burst: {burst['orders']} orders in {burst['seconds']:g}s "
            f"({burst['large_orders']} large), {burst['workers']} workers, "
            f"exchange latency {burst['exchange_latency_seconds']:g}s"
        )
        calls = burst["exchange"]
        lines.append(
            f"  exchange calls {calls['buy_calls']} "
            f"({calls['client_orders']} client orders) for "
            f"{burst['purchases']['total']} purchases; naive design: "
            f"{burst['naive_exchange_calls']} calls "
            f"(= {burst['naive_exchange_seconds_at_workers']:g}s of exchange "
            f"time on {burst['workers']} workers)"
        )
        if burst["drained"]:
            comp = burst["order_completion_seconds"]
            lines.append(
                f"  last order -> last completion "
                f"{burst['last_order_to_last_completion_seconds']}s; "
                f"order -> completed p50 {comp['p50']}s p99 {comp['p99']}s "
                f"max {comp['max']}s; {burst['left_in_pools']} small "
                f"order(s) left pending in pools (below the threshold)"
            )
        else:
            status = burst["orders_by_status"]
            lines.append(
                f"  NOT drained {burst['waited_seconds']}s after the last "
                f"order: {status.get('submitted', 0)} submitted, "
                f"{status.get('completed', 0)} completed; projected "
                f"~{burst['projected_seconds_to_drain']}s"
            )
        lines.append(
            f"  requests: {burst['answers']}, p50 "
            f"{burst['request_latency_ms']['p50']} ms, p99 "
            f"{burst['request_latency_ms']['p99']} ms"
        )
    servers = phases.get("servers", {}).get("configs")
    if servers:
        lines.append("")
        lines.append(
            f"servers at {phases['servers']['connections']} connections:"
        )
        lines.append(
            f"  {'config':14} {'ping/s':>8} {'orders/s':>9} "
            f"{'p50 ms':>8} {'p99 ms':>9} {'errors':>7} {'worker MiB':>10}"
            f"  {'conns/worker':>12}"
        )
        for cfg in servers:
            label = (
                f"{cfg['worker_class']} {cfg['WEB_CONCURRENCY']}x"
                f"{cfg['WEB_THREADS']}"
            )
            orders = cfg["orders"]
            lines.append(
                f"  {label:14} {cfg['ping']['rps']:>8.1f} "
                f"{orders['rps']:>9.1f} "
                f"{orders['latency_ms']['p50']:>8.2f} "
                f"{orders['latency_ms']['p99']:>9.2f} "
                f"{orders['errors'] + cfg['ping']['errors']:>7} "
                f"{cfg['web_worker_peak_mib'] or 0:>10}  "
                f"{spread(orders):>12}"
            )
    audits = [
        f"{name}: {'OK' if p['audit']['ok'] else 'FAILED'}"
        for name, p in phases.items()
        if "audit" in p
    ]
    if audits:
        lines.append("")
        lines.append("audit_ledger: " + ", ".join(audits))
    memory = results.get("memory", {}).get("overall")
    if memory:
        lines.append(
            "peak memory (VmHWM, MiB): "
            + ", ".join(f"{k} {v}" for k, v in sorted(memory.items()))
            + f"; all web workers together "
            f"{results['memory']['web_workers_sum_peak']}"
        )
    return lines


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    phases = results["phases"]
    names = [n for n in ("ping", "orders", "hot", "big") if n in phases]
    if not names:
        return False
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
    colors = {
        "ping": "tab:gray",
        "orders": "tab:blue",
        "hot": "tab:red",
        "big": "tab:green",
    }
    labels = {
        "ping": "ping (ceiling)",
        "orders": "orders (mix)",
        "hot": "hot (one pool)",
        "big": "big",
    }
    seeded = phases.get("big", {}).get("seed", {}).get("orders")
    if seeded:
        labels["big"] = f"big ({seeded:,} orders before)"
    for name in names:
        runs = phases[name].get("runs", [])
        if not runs:
            continue
        conns = [r["connections"] for r in runs]
        color = colors[name]
        left.plot(
            conns,
            [r["rps"] for r in runs],
            "o-",
            color=color,
            label=labels[name],
        )
        right.plot(
            conns,
            [r["latency_ms"]["p50"] for r in runs],
            "o-",
            color=color,
            label=f"{name} p50",
        )
        right.plot(
            conns,
            [r["latency_ms"]["p99"] for r in runs],
            "s--",
            color=color,
            label=f"{name} p99",
        )
    ticks = results["meta"]["args"]["connections"]
    for axis in (left, right):
        axis.set_xscale("log", base=2)
        axis.set_xticks(ticks)
        axis.set_xticklabels([str(t) for t in ticks])
        axis.set_xlabel("concurrent connections")
        axis.grid(True, which="both", alpha=0.3)
    left.set_yscale("log")
    left.set_ylabel("successful requests / s (log)")
    left.set_title("throughput")
    left.legend(fontsize=8)
    right.set_yscale("log")
    right.set_ylabel("latency (ms)")
    right.set_title("latency p50 (solid) and p99 (dashed)")
    right.legend(fontsize=7, ncol=2)
    meta = results["meta"]
    web = meta["web"]
    fig.suptitle(
        f"POST /api/order/ vs GET /api/ping/ - "
        f"{web['worker_class']} "
        f"{web['WEB_CONCURRENCY'].split()[0]}x"
        f"{web['WEB_THREADS'].split()[0]}, "
        f"{meta['cpus']} cores, {meta['duration']}s per point, "
        f"{meta['git']}",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def code_fingerprint():
    """A digest of the service's code as it is on disk now."""
    digest = hashlib.sha256()
    for path in sorted((TREE / "app").rglob("*.py")):
        if "tests" in path.parts:
            continue
        digest.update(str(path.relative_to(TREE)).encode())
        try:
            digest.update(path.read_bytes())
        except OSError:
            pass
    for name in ("serve.py", "bench/gunicorn.conf.py"):
        try:
            digest.update((TREE / name).read_bytes())
        except OSError:
            pass
    return digest.hexdigest()[:12]


def snapshot_code():
    """A copy of the service's code (app/, serve.py, and the bench's
    gunicorn.conf.py) in a temporary directory, to run the service
    from."""
    snap = Path(tempfile.mkdtemp(prefix="crypto-bench-code-"))
    shutil.copytree(
        ROOT / "app",
        snap / "app",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    shutil.copy2(ROOT / "serve.py", snap / "serve.py")
    (snap / "bench").mkdir()
    shutil.copy2(
        BENCH / "gunicorn.conf.py", snap / "bench" / "gunicorn.conf.py"
    )
    (snap / "staticfiles").mkdir()
    return snap


def git_state():
    def git(*argv):
        result = subprocess.run(
            ["git", *argv], cwd=ROOT, capture_output=True, text=True
        )
        return result.stdout.strip()

    described = git("describe", "--always", "--dirty") or "unknown"
    changed = [line[3:] for line in git("status", "--porcelain").splitlines()]
    return described, changed


def main(argv):
    global TREE, MANAGE
    args = parse_args(argv)
    for name in ("DATABASE_URL", "REDIS_URL"):
        if not os.environ.get(name):
            raise BenchError(
                f"{name} is not set; run through `make bench` (which "
                "starts the embedded services when needed)"
            )
    wrk = ensure_wrk()
    database_url, database = bench_database_url(os.environ["DATABASE_URL"])
    redis_url = bench_redis_url(os.environ["REDIS_URL"])
    say(f"database {redacted(database_url)}, redis {redacted(redis_url)}")
    say(f"phases: {', '.join(args.phases)}")
    create_database(database_url, database, recreate=not args.reuse_db)

    described, changed = git_state()
    if args.snapshot:
        TREE = snapshot_code()
        MANAGE = TREE / "app" / "manage.py"
        say(f"running the service from a copy of its code: {TREE}")
    log_dir = Path(tempfile.mkdtemp(prefix="crypto-bench-"))
    keys_file = log_dir / "customer-keys.txt"
    env = dict(os.environ)
    for name in list(env):
        if name.startswith(("EXCHANGE_", "PURCHASE_", "SWEEP_")):
            del env[name]
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        PORT=str(free_port()),
        DJANGO_DEBUG="0",
        EXCHANGE_LATENCY_SECONDS=str(args.exchange_latency),
        PURCHASE_THRESHOLD=str(THRESHOLD),
        PYTHONUNBUFFERED="1",
        # The secret key and the embedded services' file stay the
        # repository's, also when running from a copy of the code.
        DATA_DIR=os.environ.get("DATA_DIR") or str(ROOT / ".data"),
    )
    say(f"logs in {log_dir}")
    say("migrating the bench database")
    subprocess.run(
        [sys.executable, str(MANAGE), "migrate", "--noinput"],
        cwd=TREE,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        check=True,
    )
    books = Books(database_url)
    books.wipe_everyone()
    books.ensure_cryptos()
    import redis

    redis.Redis.from_url(redis_url).flushdb()

    stack = Stack(env, log_dir)
    ctx = Context(args, env, stack, books, wrk, keys_file, log_dir)
    sampler = Sampler(stack)
    ctx.sampler = sampler
    wrk_version = subprocess.run(
        [wrk, "--version"], capture_output=True, text=True
    ).stdout.splitlines()
    started_at = datetime.now(UTC)
    exit_code = 0
    ctx.results["meta"] = {
        "started": started_at.isoformat(timespec="seconds"),
        "git": described,
        "code": (
            "a copy taken at the start"
            if args.snapshot
            else "the repository, live"
        ),
        "changed_files": changed,
        "cpus": os.cpu_count(),
        "duration": args.duration,
        "args": vars(args),
        "wrk": wrk_version[0] if wrk_version else "",
        "database": redacted(database_url),
        "redis": redacted(redis_url),
        "web": stack.web_config,
        "threshold": str(THRESHOLD),
        "exchange_latency_seconds": args.exchange_latency,
    }
    try:
        sampler.start()
        say(f"starting serve.py on port {env['PORT']} and one rqworker")
        stack.start_web()
        ctx.results["meta"]["web"] = stack.web_config
        stack.start_workers(1)
        keys = setup_customers(ctx)
        warm_up(ctx)
        for name in args.phases:
            say(f"=== phase {name} ===")
            sampler.set_phase(name)
            if name == "ping":
                phase_ping(ctx)
            elif name == "orders":
                phase_orders(ctx)
            elif name == "hot":
                phase_hot(ctx)
            elif name == "steady":
                phase_steady(ctx, keys)
            elif name == "big":
                phase_big(ctx)
            elif name == "burst":
                phase_burst(ctx, keys)
            elif name == "servers":
                phase_servers(ctx)
    except BenchError as err:
        say(f"ERROR: {err}")
        ctx.failures.append(str(err))
        exit_code = 2
    finally:
        sampler.stopped.set()
        stack.stop()
        books.close()
    ctx.results["memory"] = sampler.report()
    seen = stack.code_seen + [code_fingerprint()]
    ctx.results["meta"]["code_fingerprints"] = seen
    if len(set(seen)) > 1:
        ctx.failures.append(
            "the service's code changed during the run (fingerprints "
            f"{', '.join(dict.fromkeys(seen))}): figures from before and "
            "after the change are not comparable"
        )
    ctx.results["meta"]["finished"] = datetime.now(UTC).isoformat(
        timespec="seconds"
    )
    ctx.results["failures"] = ctx.failures
    if TREE != ROOT:
        shutil.rmtree(TREE, ignore_errors=True)

    RESULTS.mkdir(parents=True, exist_ok=True)
    json_path = RESULTS / f"{args.name}.json"
    tmp = json_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(ctx.results, indent=2, default=str) + "\n")
    tmp.replace(json_path)
    png_path = RESULTS / f"{args.name}.png"
    plotted = False
    if not args.no_plot:
        try:
            plotted = plot(ctx.results, png_path)
        except ImportError:
            say(
                "matplotlib is missing (pip install -r requirements-bench.txt)"
            )
    print()
    for line in table_lines(ctx.results):
        print(line)
    print()
    say(f"results: {json_path}" + (f", {png_path}" if plotted else ""))
    say(f"logs: {log_dir}")
    if ctx.failures:
        say("FAILED: " + "; ".join(ctx.failures))
        exit_code = exit_code or 1
    return exit_code


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BenchError as err:
        say(f"ERROR: {err}")
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
