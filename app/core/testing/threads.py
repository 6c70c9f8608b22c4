"""Running one action in many threads at the same moment, each with its
own database connection."""

import threading

from django.db import connection


def run_together(count, action, start_timeout=30, join_timeout=60):
    """Run ``action(i)`` in ``count`` threads released at once by a
    barrier; the results (or exceptions) by thread index. Fails the test
    if a thread is still running after ``join_timeout`` seconds."""
    barrier = threading.Barrier(count)
    results = [None] * count

    def target(index):
        try:
            barrier.wait(timeout=start_timeout)
            results[index] = action(index)
        except Exception as exc:  # noqa: BLE001 - collected and checked
            results[index] = exc
        finally:
            connection.close()

    threads = [
        threading.Thread(target=target, args=(i,)) for i in range(count)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=join_timeout)
    assert not any(thread.is_alive() for thread in threads)
    return results
