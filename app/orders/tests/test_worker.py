"""The worker runs only the service's own jobs: a job is data in Redis,
and anyone who can write to Redis could otherwise have the worker call
any function, or run code by having it unpickle a payload."""

import os
import pickle

import pytest
from rq import Queue
from rq.job import JobStatus

from orders.worker import service_job


class _MakesDirectoryWhenUnpickled:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.makedirs, (self.path,))


@pytest.mark.django_db(transaction=True)
def test_a_job_naming_another_function_fails_without_running(
    queue, run_worker, tmp_path
):
    target = tmp_path / "made-by-a-job"
    job = queue.enqueue("os.makedirs", str(target))

    run_worker()

    assert not target.exists()
    job.refresh()
    assert job.get_status() == JobStatus.FAILED
    assert "not one of the jobs" in job.latest_result().exc_string


@pytest.mark.django_db(transaction=True)
def test_a_pickled_job_is_never_unpickled(queue, run_worker, tmp_path):
    """Written as RQ's default (pickle) serializer writes a job, with an
    argument whose unpickling would make a directory."""
    target = tmp_path / "made-by-unpickling"
    pickling = Queue(
        queue.name, connection=queue.connection, serializer=pickle
    )
    pickling.enqueue(
        "orders.jobs.purchase_execute",
        _MakesDirectoryWhenUnpickled(str(target)),
    )

    run_worker()

    assert not target.exists()


@pytest.mark.django_db(transaction=True)
def test_the_service_jobs_still_run(queue, run_worker):
    job = queue.enqueue("orders.jobs.purchase_execute", 999999)

    run_worker()

    job.refresh()
    assert job.get_status() == JobStatus.FINISHED


@pytest.mark.parametrize(
    ("func_name", "allowed"),
    [
        ("orders.jobs.purchase_execute", True),
        ("orders.jobs._attempt", False),  # private
        ("orders.jobs.ThreadPoolExecutor", False),  # imported there
        ("orders.jobs.services", False),
        ("orders.jobsx.purchase_execute", False),
        ("os.system", False),
        ("builtins.eval", False),
        ("", False),
        (None, False),
    ],
)
def test_service_job(func_name, allowed):
    assert service_job(func_name) is allowed
