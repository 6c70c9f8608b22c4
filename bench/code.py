"""The code under test: a copy to run the service from, a digest of it
(a run is only comparable with itself if the code stood still), and the
git state the results record."""

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.common import BENCH, ROOT


def code_fingerprint(tree):
    """A digest of the service's code under ``tree`` as it is now."""
    digest = hashlib.sha256()
    for path in sorted((tree / "app").rglob("*.py")):
        if "tests" in path.parts:
            continue
        digest.update(str(path.relative_to(tree)).encode())
        try:
            digest.update(path.read_bytes())
        except OSError:
            pass
    for name in ("serve.py", "bench/gunicorn.conf.py"):
        try:
            digest.update((tree / name).read_bytes())
        except OSError:
            pass
    return digest.hexdigest()[:12]


def snapshot_code():
    """A copy of the service's code (app/, serve.py, and the bench's
    gunicorn.conf.py) in a temporary directory, to run the service
    from."""
    snap = Path(tempfile.mkdtemp(prefix="crypto-bench-code-"))
    shutil.copytree(
        ROOT / "app",
        snap / "app",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    shutil.copy2(ROOT / "serve.py", snap / "serve.py")
    (snap / "bench").mkdir()
    shutil.copy2(
        BENCH / "gunicorn.conf.py", snap / "bench" / "gunicorn.conf.py"
    )
    (snap / "staticfiles").mkdir()
    return snap


def git_state():
    """(``git describe --dirty``, the files changed from it)."""

    def git(*argv):
        result = subprocess.run(
            ["git", *argv], cwd=ROOT, capture_output=True, text=True
        )
        return result.stdout.strip()

    described = git("describe", "--always", "--dirty") or "unknown"
    changed = [line[3:] for line in git("status", "--porcelain").splitlines()]
    return described, changed
