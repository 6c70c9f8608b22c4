"""Waiting in a test for something another thread or process does."""

import time


def wait_for(predicate, timeout=30.0, interval=0.05, what="condition"):
    """Poll until ``predicate()`` is true and return its value; fail the
    test, naming ``what``, on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
