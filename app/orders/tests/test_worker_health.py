"""``manage.py worker_health``, the worker container's healthcheck:
healthy only while a worker of this host is registered in Redis and
alive. Real processes: a private Redis and ``manage.py rqworker``."""

import subprocess
import sys

import pytest

from core.testing.live import APP_DIR
from core.testing.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _health(env):
    return subprocess.run(
        [sys.executable, "manage.py", "worker_health"],
        cwd=APP_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_healthy_only_while_a_worker_of_this_host_runs(live):
    env = live.env(live.redis())

    before = _health(env)
    assert before.returncode != 0
    assert "no live worker" in before.stderr

    worker = live.worker(env)
    healthy = wait_for(
        lambda: (result := _health(env)).returncode == 0 and result,
        what="the worker to register",
    )
    assert f"(pid {worker.pid})" in healthy.stdout

    worker.kill()  # no clean exit: its registration is left in Redis
    after = _health(env)
    assert after.returncode != 0, after.stdout


def test_unhealthy_when_redis_does_not_answer(live):
    redis = live.redis()
    env = live.env(redis)
    redis.stop()

    result = _health(env)

    assert result.returncode != 0
    assert "Redis does not answer" in result.stderr
