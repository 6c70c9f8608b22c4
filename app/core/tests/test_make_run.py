"""``make run`` (``scripts/stack.py run``) on a port that is in use: a
second ``make run`` refuses at once, before it starts or changes
anything, instead of sharing the port with the first (granian listens
with SO_REUSEPORT, so a second server would start without a word)."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
STACK = ROOT / "scripts" / "stack.py"


def _make_run(port, data_dir, **extra):
    env = {
        **os.environ,
        "PORT": str(port),
        "DATA_DIR": str(data_dir),
        # Never reached: the port is checked first.
        "DATABASE_URL": "postgres://nobody@127.0.0.1:9/none",
        "REDIS_URL": "redis://127.0.0.1:9/0",
        **extra,
    }
    return subprocess.run(
        [sys.executable, str(STACK), "run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.django_db(transaction=True)
def test_a_second_make_run_on_a_port_in_use_refuses(live, tmp_path):
    # The first `make run`'s web server: granian, as make run starts it.
    first = live.web(live.env(live.redis()))
    port = int(first.url.rsplit(":", 1)[1])
    data_dir = tmp_path / "data"

    second = _make_run(port, data_dir)

    assert second.returncode != 0
    assert f"port {port} is in use (another make run?)" in second.stderr
    # Nothing started, nothing changed: not even the data directory.
    assert not data_dir.exists()
    assert "migrate" not in second.stderr
    assert first.process.poll() is None


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
def test_a_port_held_by_any_listener_is_refused(tmp_path, host):
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.bind((host, 0))
        listener.listen()
        port = listener.getsockname()[1]

        result = _make_run(port, tmp_path / "data", HOST="127.0.0.1")

    assert result.returncode == 1
    assert f"port {port} is in use" in result.stderr
