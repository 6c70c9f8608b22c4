"""Log lines: readable by default, one JSON object each with
LOG_FORMAT=json, carrying the fields given with ``extra=``."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from core.logging import JsonFormatter

APP_DIR = Path(__file__).resolve().parents[2]

EMIT = """
import django, logging
django.setup()
logging.getLogger("orders.worker").info(
    "purchase queued: purchase #%s, worker rung", 7,
    extra={"purchase_id": 7},
)
"""


def _record(message, *args, **extra):
    record = logging.LogRecord(
        "orders.worker", logging.INFO, __file__, 1, message, args, None
    )
    record.__dict__.update(extra)
    return record


def test_json_formatter_writes_one_object_with_the_extra_fields():
    line = JsonFormatter().format(
        _record(
            "exchange call done in %.2fs",
            5.0,
            purchase_id=3,
            client_order_id="3f2b8c1e-5d4a-4e1b-9a7c-2d6e8f0a1b3c",
        )
    )

    entry = json.loads(line)
    assert "\n" not in line
    assert entry["message"] == "exchange call done in 5.00s"
    assert (entry["level"], entry["logger"]) == ("INFO", "orders.worker")
    assert entry["purchase_id"] == 3
    assert entry["client_order_id"] == "3f2b8c1e-5d4a-4e1b-9a7c-2d6e8f0a1b3c"
    assert entry["time"].endswith("+00:00")


def test_json_formatter_keeps_a_traceback_on_its_one_line():
    try:
        raise ValueError("boom")
    except ValueError:
        record = _record("failed")
        record.exc_info = sys.exc_info()

    line = JsonFormatter().format(record)

    assert "\n" not in line
    assert "ValueError: boom" in json.loads(line)["exception"]


def _emit(log_format):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    env.pop("LOG_FORMAT", None)
    if log_format:
        env["LOG_FORMAT"] = log_format
    result = subprocess.run(
        [sys.executable, "-c", EMIT],
        cwd=APP_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stderr.strip().splitlines()


def test_log_format_json_selects_the_json_formatter():
    (line,) = _emit("json")

    entry = json.loads(line)
    assert entry["message"] == "purchase queued: purchase #7, worker rung"
    assert entry["purchase_id"] == 7


def test_lines_are_plain_text_by_default():
    (line,) = _emit(None)

    assert line.endswith(
        "INFO orders.worker purchase queued: purchase #7, worker rung"
    )


def test_json_formatter_lifts_the_ids_a_worker_line_names():
    line = JsonFormatter().format(
        _record(
            "exchange call started: purchase #12 3 ABAN ($12.00) "
            "client_order_id=3f2b8c1e-5d4a-4e1b-9a7c-2d6e8f0a1b3c"
        )
    )

    entry = json.loads(line)
    assert entry["purchase_id"] == 12
    assert entry["client_order_id"] == "3f2b8c1e-5d4a-4e1b-9a7c-2d6e8f0a1b3c"
