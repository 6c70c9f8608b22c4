"""The files of the embedded services under ``DATA_DIR`` (``.data/``),
and the helpers both services share.

Neither accepts a connection without its password: each gets a random
one, generated once into ``.data/secrets/`` (mode 600, the directory
700), and the URLs in ``services.env`` (mode 600) carry them. A cluster
or a Redis started by an older version without a password is given one
(PostgreSQL: its ``pg_hba.conf`` rewritten; Redis: restarted). Both
listen on 127.0.0.1 only.
"""

import importlib.util
import os
import secrets
import socket
import sys
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ.get("DATA_DIR") or ROOT / ".data").absolute()
SECRETS_DIR = DATA_DIR / "secrets"

HOST = "127.0.0.1"


class StackError(Exception):
    """A failure to report in one line, without a traceback."""


def say(message):
    print(f"stack: {message}", file=sys.stderr, flush=True)


def package_dir(name):
    """The directory of an installed package, without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise StackError(f"package {name} is missing; run `make install`")
    return Path(next(iter(spec.submodule_search_locations)))


def private_dir(path, traversable=False):
    """A directory only this user may list and write (mode 700); with
    ``traversable``, others keep the right to pass through it (o+x), as
    the PostgreSQL account needs for .data when we run as root."""
    path.mkdir(parents=True, exist_ok=True)
    closed = 0o066 if traversable else 0o077
    if path.stat().st_mode & closed:
        path.chmod(path.stat().st_mode & ~closed)
    return path


def write_private(path, text):
    """Write ``text`` to ``path`` with mode 600, never readable by others
    even for a moment."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    tmp.replace(path)


def secret(name):
    """The password named ``name``, generated once into .data/secrets/."""
    path = private_dir(SECRETS_DIR) / name
    try:
        value = path.read_text().strip()
    except FileNotFoundError:
        value = ""
    if not value:
        # URL-safe: it goes into DATABASE_URL and REDIS_URL as it is.
        value = secrets.token_urlsafe(32)
        write_private(path, value + "\n")
    return value


def read_int(path):
    try:
        return int(path.read_text().split()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None


def pid_alive(pid):
    """True when pid is a running process (a zombie is not)."""
    if not pid or pid <= 0:
        return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _port_is_free(port):
    """True when a server could listen on HOST:port right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def pick_port(port_file, default):
    """The recorded port when it is free, else the first free one."""
    recorded = read_int(port_file)
    candidates = [recorded] if recorded else []
    candidates += range(default, default + 200)
    for port in candidates:
        if _port_is_free(port):
            return port
    raise StackError(f"no free port on {HOST} from {default}")


def port_open(port, host=HOST):
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def tail(path, lines=30):
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])
