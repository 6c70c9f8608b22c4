"""The stack under test: the web server and the RQ workers, started as
``make web`` and ``make worker`` start them, from the code's copy, by
the app's own process runner (``core.testing.live.Service``)."""

import subprocess
import sys
import threading
import time
from http.client import HTTPException

import redis

from bench.code import code_fingerprint
from bench.common import VENV_BIN, BenchError
from core.testing.live import Service, http


def tail(service, lines=20):
    """The end of a service's log, for an error message."""
    try:
        text = service.output()
    except (OSError, UnicodeDecodeError):
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _status(url):
    """The HTTP status of GET ``url``; None when nothing answers."""
    try:
        return http("GET", url, timeout=30)[0]
    except (OSError, HTTPException):
        return None


class Stack:
    """The web server and the RQ workers under test, run from ``tree``
    with ``env``, their logs in ``log_dir``."""

    def __init__(self, env, log_dir, tree):
        self.env = env
        self.log_dir = log_dir
        self.tree = tree
        self.web = None
        self.web_config = None
        self.workers = []
        self.port = int(env["PORT"])
        self.base_url = f"http://127.0.0.1:{self.port}"
        # The code each start of the web server loaded: a run is only
        # comparable with itself if the code stood still.
        self.code_seen = []
        self._lock = threading.Lock()
        self._starts = {}

    def manage(self, *argv, env=None, stdout=subprocess.PIPE):
        """``python app/manage.py ARGV...`` of the code under test."""
        return subprocess.run(
            [sys.executable, str(self.tree / "app" / "manage.py"), *argv],
            cwd=self.tree,
            env=env or self.env,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.STDOUT if stdout else None,
            text=True,
        )

    def _start(self, name, argv, env):
        """A service whose log keeps every start: web.log, web.2.log..."""
        count = self._starts[name] = self._starts.get(name, 0) + 1
        log = self.log_dir / (
            f"{name}.log" if count == 1 else f"{name}.{count}.log"
        )
        return Service(argv, env, log, cwd=self.tree)

    def roots(self):
        """(role, pid) of each live parent: the web server, the workers."""
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
        self.code_seen.append(code_fingerprint(self.tree))
        env = dict(self.env)
        if workers:
            env["WEB_CONCURRENCY"] = str(workers)
        if threads:
            env["WEB_THREADS"] = str(threads)
        workers = env.get("WEB_CONCURRENCY") or "2 (default)"
        threads = env.get("WEB_THREADS") or "4 (default)"
        if worker_class == "granian":
            argv = [sys.executable, str(self.tree / "serve.py")]
        else:
            argv = [
                str(VENV_BIN / "gunicorn"),
                *("-c", str(self.tree / "bench" / "gunicorn.conf.py")),
                *("--chdir", str(self.tree / "app")),
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
            self.web = self._start("web", argv, env)
        deadline = time.monotonic() + 60
        while True:
            if not self.web.alive():
                raise BenchError(
                    f"the web server exited:\n{tail(self.web)}\n"
                    f"(log: {self.web.logfile})"
                )
            status = _status(f"{self.base_url}/api/health/")
            if status == 200:
                break
            if time.monotonic() > deadline:
                raise BenchError(
                    f"the web server did not answer /api/health/ 200 "
                    f"(last: {status}); log: {self.web.logfile}"
                )
            time.sleep(0.2)
        # Every worker process up, not only the first to answer.
        wanted = int(workers.split()[0])
        while len(self.web_workers()) < wanted:
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)

    def web_workers(self):
        """Pids of the web server's worker processes."""
        web = self.web
        return web.children(recursive=True) if web else []

    def stop_web(self):
        with self._lock:
            web, self.web = self.web, None
        if web:
            web.stop(grace=25)

    def start_workers(self, count):
        argv = [
            sys.executable,
            str(self.tree / "app" / "manage.py"),
            "rqworker",
            "default",
        ]
        with self._lock:
            for _ in range(count):
                name = f"worker{len(self.workers) + 1}"
                self.workers.append(self._start(name, argv, self.env))
        # Ready when registered in Redis (a worker that starts late
        # would make the phase look slower than it is).
        client = redis.Redis.from_url(self.env["REDIS_URL"])
        deadline = time.monotonic() + 60
        while client.scard("rq:workers") < count:
            dead = [w for w in self.workers if not w.alive()]
            if dead:
                raise BenchError(
                    f"rqworker exited:\n{tail(dead[0])}\n"
                    f"(log: {dead[0].logfile})"
                )
            if time.monotonic() > deadline:
                raise BenchError("the RQ workers did not register in time")
            time.sleep(0.1)

    def stop_workers(self):
        """Stop at once (the horse is signalled with its parent), then
        kill what is left; the phase's state is reset."""
        with self._lock:
            workers, self.workers = self.workers, []
        for worker in workers:
            worker.stop(grace=5)

    def stop(self):
        self.stop_workers()
        self.stop_web()
