"""The processes under test, read with psutil: CPU time by role, peak
memory, and the connections each web worker holds."""

import os
import resource
import threading
import time

import psutil

from bench.common import say

# The processes whose CPU an order (or a ping) costs.
COST_ROLES = ("web", "pg", "redis", "rq")


def family(pid):
    """The process ``pid`` and its descendants, as psutil.Process."""
    try:
        parent = psutil.Process(pid)
        return [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _postgres_database(proc):
    """The database a PostgreSQL backend serves, from its process title
    ('postgres: user dbname host(port) state'); '' for others."""
    try:
        words = " ".join(proc.cmdline()).split()
    except psutil.Error:
        return ""
    if not words or words[0] != "postgres:":
        return ""
    # Debian names the cluster first: 'postgres: 15/main: user db ...'.
    words = [word for word in words[1:] if not word.endswith(":")]
    return words[1] if len(words) >= 2 else ""


def _role(proc, name, roles, database):
    if proc.pid == os.getpid():
        return "bench"
    if proc.pid in roles:
        return roles[proc.pid]
    if name.startswith("postgres"):
        served = _postgres_database(proc)
        return "pg" if served == database else "pg other"
    if name.startswith("redis-server"):
        return "redis"
    return "rest"


def cpu_snapshot(roots, database):
    """CPU seconds so far of every process, by what it is: the web
    server, the RQ workers (``roots``: (role, pid) of each), PostgreSQL
    serving ``database``, PostgreSQL for anyone else, Redis; and the
    whole machine's busy time."""
    roles = {}
    for role, pid in roots:
        for proc in family(pid):
            roles[proc.pid] = role
    procs = {}
    for proc in psutil.process_iter(["name", "cpu_times", "create_time"]):
        times = proc.info["cpu_times"]
        if times is None:
            continue
        role = _role(proc, proc.info["name"] or "", roles, database)
        spent = times.user + times.system
        procs[proc.pid] = (role, spent, proc.info["create_time"])
    machine = psutil.cpu_times()
    busy = (
        machine.user
        + machine.nice
        + machine.system
        + machine.irq
        + machine.softirq
        + machine.steal
    )
    return {
        "procs": procs,
        "busy": busy,
        "children": resource.getrusage(resource.RUSAGE_CHILDREN),
        "at": time.monotonic(),
    }


def cpu_delta(before, after):
    """Percent of one core each kind of process used in between (the
    machine has os.cpu_count() cores). 'other' is the machine's busy time
    that none of the named ones account for: other people's work."""
    wall = after["at"] - before["at"]
    used = {"web": 0, "rq": 0, "pg": 0, "pg other": 0, "redis": 0}
    used["bench"] = 0
    for pid, (role, spent, started) in after["procs"].items():
        old = before["procs"].get(pid)
        if old and old[2] == started:
            spent -= old[1]
        if role in used:
            used[role] += spent
    ru0, ru1 = before["children"], after["children"]
    used["wrk"] = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    busy = after["busy"] - before["busy"]
    used["machine"] = busy
    named = sum(v for k, v in used.items() if k != "machine")
    used["other"] = max(0.0, busy - named)
    return {k: round(100 * v / wall, 1) for k, v in used.items()}


def connections_held(pids, port):
    """Established connections to ``port`` held by each of ``pids``
    (keep-alive connections stay with the worker that took them)."""
    counts = []
    for pid in pids:
        try:
            conns = psutil.Process(pid).net_connections(kind="tcp")
        except psutil.Error:
            continue
        counts.append(
            sum(
                1
                for conn in conns
                if conn.status == psutil.CONN_ESTABLISHED
                and conn.laddr
                and conn.laddr.port == port
            )
        )
    return counts


def peak_rss_kb(pid):
    """The peak resident set of a process in kB, None when it is gone.
    psutil reads the current one only; Linux keeps the peak (VmHWM)."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class Sampler(threading.Thread):
    """Peak memory (VmHWM) of the web and worker processes, sampled
    every 0.25 s, per phase and overall. ``roots`` returns the (role,
    pid) of the parents to follow."""

    def __init__(self, roots):
        super().__init__(daemon=True, name="memory-sampler")
        self.roots = roots
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
        roots = self.roots()
        if not roots:
            return
        with self.lock:
            phase = self.phase
            web_sum = 0
            for role, pid in roots:
                members = family(pid)
                kind = "worker" if role == "web" else "horse"
                for proc in members:
                    kb = peak_rss_kb(proc.pid)
                    if kb is None:
                        continue
                    if proc.pid == pid:
                        self._note(phase, f"{role} parent", pid, kb)
                        continue
                    self._note(phase, f"{role} {kind}", proc.pid, kb)
                    if role == "web":
                        web_sum += kb
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
