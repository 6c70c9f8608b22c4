"""The multiprocess directory: emptied only when none of its writers
lives, so that totals never go down while the service runs."""

import os
import subprocess
import sys

from monitoring import multiproc


def _dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _live_process():
    return subprocess.Popen([sys.executable, "-c", "input()"], stdin=-1)


def test_a_dead_service_s_files_are_removed_at_start(tmp_path):
    dead = _dead_pid()
    for name in (f"counter_{dead}.db", f"histogram_{dead}h.db"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("not a metric file")

    multiproc.prepare(tmp_path)

    assert sorted(os.listdir(tmp_path)) == ["notes.txt"]


def test_a_dead_process_s_counts_stay_while_another_writer_lives(tmp_path):
    dead, live = _dead_pid(), _live_process()
    try:
        (tmp_path / f"counter_{dead}.db").write_bytes(b"x")
        (tmp_path / f"counter_{live.pid}.db").write_bytes(b"x")

        multiproc.prepare(tmp_path)

        assert len(os.listdir(tmp_path)) == 2
    finally:
        live.kill()
        live.wait()


def test_own_files_are_a_worker_s_and_its_work_horses(tmp_path):
    for name in ("counter_41.db", "counter_41h.db", "counter_411.db"):
        (tmp_path / name).write_bytes(b"x")

    files = multiproc.own_files(tmp_path, 41)

    assert [os.path.basename(f) for f in files] == [
        "counter_41.db",
        "counter_41h.db",
    ]
