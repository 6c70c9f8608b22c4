"""Where the bench lives, how it speaks and how it fails."""

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
VENV_BIN = Path(sys.executable).parent

_start = time.monotonic()


def say(message):
    elapsed = time.monotonic() - _start
    print(f"[bench {elapsed:6.1f}s] {message}", flush=True)


class BenchError(Exception):
    """A failure that ends the run with one line, not a traceback."""
