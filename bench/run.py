"""``make bench``: the entry point of the bench package (bench/cli.py).

Run as ``python bench/run.py [options]``; ``--help`` lists them."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The bench package and the app's own helpers (core.money,
# core.testing), in place of bench/ itself: its modules are not
# top-level names.
sys.path[0:1] = [str(ROOT), str(ROOT / "app")]

from bench.cli import run  # noqa: E402

if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
