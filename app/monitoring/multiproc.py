"""The multiprocess directory of prometheus-client, and who writes in it.

Every process of the service (each web server process, each worker and
its work horses) writes its counters and histograms into files of its
own in ``PROMETHEUS_MULTIPROC_DIR``; a scrape adds them up. This module
imports nothing of Django, so that settings can call it, before any
metric exists.

- A file is named after its writer. That is the pid, except in an RQ
  work horse: RQ forks one per job, and a file per job would pile up,
  so horses write as ``<worker pid>h``, one file set per worker. A worker
  runs one horse at a time, so no two processes share a file.
- The files of a process that died stay: its counts are part of the
  totals, and taking them away would look like a counter reset to
  Prometheus, and a false jump to ``rate()``. The directory is emptied
  when a process starts and no process that wrote in it is alive any
  more: a restart of the whole service starts its counters from zero.
"""

import os
import re
from pathlib import Path

_FILE = re.compile(r"^[a-z_]+_(\d+)h?\.db$")
_horse_of = None


def writer_id():
    """Names this process's files (see the module's docstring)."""
    if _horse_of is not None:
        return f"{_horse_of}h"
    return os.getpid()


def become_work_horse(parent_pid: int) -> None:
    """Called first thing in an RQ work horse."""
    global _horse_of
    _horse_of = parent_pid


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this host (ours or not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def prepare(path) -> None:
    """Create the directory; empty it when none of its writers is alive.

    Only files of dead processes are removed, each checked as it goes,
    so a process that starts at the same moment keeps its own."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    owners = {}
    for file in path.iterdir():
        match = _FILE.match(file.name)
        if match:
            owners[file] = int(match.group(1))
    me = os.getpid()
    if any(pid != me and pid_alive(pid) for pid in owners.values()):
        return
    for file, pid in owners.items():
        if pid != me and not pid_alive(pid):
            file.unlink(missing_ok=True)


def own_files(path, pid=None):
    """The files this process (or ``pid``) and its work horses wrote."""
    pid = pid or os.getpid()
    return sorted(
        str(file)
        for file in Path(path).iterdir()
        if (match := _FILE.match(file.name)) and int(match.group(1)) == pid
    )
