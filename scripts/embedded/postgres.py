"""The embedded PostgreSQL, under ``.data/pg/``.

PostgreSQL refuses to run as root. When ``scripts/stack.py`` runs as
root, the server runs as the unprivileged user ``pgserver`` (created by
pgserver's own ``ensure_user_exists``), which owns ``.data/pg``; only
the PostgreSQL processes change user.

From pgserver it takes its binaries, its account and permission helpers,
its choice of a socket directory and its reading of ``postmaster.pid``.
The rest exists because pgserver's own server listens on a unix socket
only and trusts every local user: this one listens on a TCP port with a
password, for Django's URLs and the fault tests' TCP proxy.
"""

import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

from embedded import files
from embedded.files import DATA_DIR, HOST, StackError, say

PG_DEFAULT_PORT = 54329
PG_SUPERUSER = "postgres"
PG_DATABASE = "crypto"
PG_SYSTEM_USER = "pgserver"  # pgserver's own name for it
PG_INCLUDE = "include_if_exists = 'stack.conf'"

PG_DIR = DATA_DIR / "pg"
PGDATA = PG_DIR / "data"
PG_RUN = PG_DIR / "run"
PG_LOG = PG_DIR / "postgres.log"
PG_PORT_FILE = PG_DIR / "port"


def _pgserver():
    """pgserver's helpers, imported only when PostgreSQL is embedded."""
    files.package_dir("pgserver")
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
        env["PGPASSWORD"] = files.secret("postgres")
    return env


def _chown_tree(path, account):
    for top, _dirs, names in os.walk(path):
        os.lchown(top, account.pw_uid, account.pw_gid)
        for name in names:
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
            if files.pid_alive(info.pid) and _pg_ready(info.port):
                return info.port
        if time.monotonic() > deadline:
            raise StackError(f"PostgreSQL does not answer; see {PG_LOG}")
        time.sleep(0.2)


def _superuser_args(port):
    """The arguments of pg_isready and psql for our server on ``port``,
    as the superuser, to the ``postgres`` database."""
    return ["-h", HOST, "-p", str(port), "-U", PG_SUPERUSER, "-d", "postgres"]


def _pg_ready(port):
    result = subprocess.run(
        [_pg_bin("pg_isready"), "-q", *_superuser_args(port), "-t", "3"],
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
            *_superuser_args(port),
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
    files.write_private(pwfile, files.secret("postgres") + "\n")
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
    port = files.pick_port(PG_PORT_FILE, PG_DEFAULT_PORT)
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
            f"--- {PG_LOG} ---\n{files.tail(PG_LOG)}"
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
    password = files.secret("postgres")
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
    password = files.secret("postgres")
    return f"postgres://{PG_SUPERUSER}:{password}@{HOST}:{port}/{PG_DATABASE}"


def postgres_status():
    """``(pid, port)`` of the embedded PostgreSQL when it runs and
    answers, else None; without waiting for one that is starting."""
    running = _postmaster()
    if (
        running not in (None, "starting")
        and files.pid_alive(running.pid)
        and _pg_ready(running.port)
    ):
        return running.pid, running.port
    return None


def stop_postgres():
    running = _postmaster()
    if running is None or running == "starting":
        say("embedded PostgreSQL is not running")
        return
    if not files.pid_alive(running.pid):
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
