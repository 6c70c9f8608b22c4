"""Log formats: one line per event, readable or JSON.

``LOG_FORMAT=json`` (see ``LOGGING`` in the settings) selects
``JsonFormatter``: one JSON object per line, for a log collector. Fields
passed with ``extra=`` (``purchase_id``, ``client_order_id``, ...) become
keys of their own next to the message; so do the ids that the worker's
readable lines name (``purchase #12``, ``client_order_id=<uuid>``), so
that a collector can follow one purchase through every line.
"""

import json
import logging
import re
from datetime import UTC, datetime

# The attributes every LogRecord has; anything else came with ``extra=``.
_RECORD_ATTRIBUTES = set(
    vars(logging.LogRecord("", 0, "", 0, "", None, None))
) | {"message", "asctime", "taskName"}


# Ids named in a message, lifted into fields when not given as extra.
_NAMED_IDS = {
    "purchase_id": (re.compile(r"\bpurchase #(\d+)"), int),
    "client_order_id": (
        re.compile(r"\bclient_order_id=([0-9a-fA-F-]{36})\b"),
        str,
    ),
}


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", **extra}`` on one line."""

    def format(self, record):
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, (pattern, kind) in _NAMED_IDS.items():
            found = pattern.search(entry["message"])
            if found:
                entry[key] = kind(found.group(1))
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)
