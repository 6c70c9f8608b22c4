"""py-spy on every web worker during a run (``--profile``): the top
frames go to the results, the raw stacks to the log directory."""

import subprocess

from bench.common import VENV_BIN, say


def start_profile(ctx, duration, profile):
    """py-spy on every web worker process for the run; ``profile`` is
    (output directory, label, extra py-spy flags)."""
    out_dir, label, flags = profile
    spy = VENV_BIN / "py-spy"
    if not spy.exists():
        say("--profile: py-spy is not in the virtualenv; skipped")
        return None
    spies = []
    seconds = max(1, duration - 1)
    for pid in ctx.stack.web_workers():
        out = out_dir / f"profile-{label}-{pid}.txt"
        argv = [str(spy), "record", "--pid", str(pid)]
        argv += ["--duration", str(seconds), "--rate", "100"]
        argv += ["--format", "raw", "--output", str(out), *flags]
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        spies.append((proc, out))
    say(f"py-spy ({label}): recording {len(spies)} web workers")
    return spies


def _frame_name(frame):
    """'func (path/to/file.py:12)' -> 'func (file path, short)'."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/app/", "python3.11/"):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    return f"{name} ({where})"


def finish_profile(ctx, spies, profile):
    _, label, _ = profile
    inclusive, leaf = {}, {}
    total = 0
    files = []
    for proc, out in spies:
        _, err = proc.communicate(timeout=60)
        if proc.returncode or not out.exists():
            say(f"py-spy failed: {err.strip()[-300:]}")
            continue
        files.append(str(out))
        for line in out.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack:
                continue
            count = int(count)
            total += count
            frames = [_frame_name(f) for f in stack.split(";")]
            for name in set(frames):
                inclusive[name] = inclusive.get(name, 0) + count
            leaf[frames[-1]] = leaf.get(frames[-1], 0) + count
    if not total:
        return

    def top(counts, n):
        ranked = sorted(counts.items(), key=lambda kv: -kv[1])[:n]
        return [
            {"frame": name, "percent": round(100 * c / total, 1)}
            for name, c in ranked
        ]

    profiles = ctx.results.setdefault("profile", {})
    profiles[label] = {
        "samples": total,
        "raw": files,
        "top_inclusive": top(inclusive, 80),
        "top_self": top(leaf, 30),
    }
    say(f"py-spy ({label}): {total} samples; top self frames:")
    for item in profiles[label]["top_self"][:8]:
        say(f"   {item['percent']:5.1f}%  {item['frame']}")
