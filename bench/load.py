"""Load with wrk: one run, one point of a curve (``--repeat`` runs, the
median), and the wait for a quiet machine."""

import json
import os
import shutil
import subprocess
import time

from bench.common import BENCH, ROOT, BenchError, say
from bench.processes import (
    COST_ROLES,
    connections_held,
    cpu_delta,
    cpu_snapshot,
)
from bench.profiling import finish_profile, start_profile


def ensure_wrk():
    wrk = shutil.which("wrk")
    if wrk:
        return wrk
    if os.geteuid() != 0:
        raise BenchError(
            "wrk is not installed; install it (Debian: "
            "`sudo apt-get install -y wrk`) and run again"
        )
    say("installing wrk (apt-get install -y wrk)")
    install = [
        "apt-get",
        "install",
        "-y",
        "-q",
        "-o",
        "DPkg::Lock::Timeout=300",
        "wrk",
    ]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if subprocess.run(install, env=env, stdin=subprocess.DEVNULL).returncode:
        subprocess.run(
            ["apt-get", "update", "-q", "-o", "DPkg::Lock::Timeout=300"],
            env=env,
            stdin=subprocess.DEVNULL,
        )
        subprocess.run(install, env=env, stdin=subprocess.DEVNULL, check=True)
    wrk = shutil.which("wrk")
    if not wrk:
        raise BenchError("wrk is still missing after apt-get install")
    return wrk


def cpu_now(ctx):
    """A CPU snapshot of the stack under test and the machine."""
    return cpu_snapshot(ctx.stack.roots(), ctx.database)


def wait_for_quiet(ctx):
    """With --quiet-wait, wait (at most that long) until processes other
    than the bench's use under --quiet-threshold percent of one core, so
    that a shared machine's other work does not skew a run."""
    limit = ctx.args.quiet_wait
    if not limit:
        return 0
    started = time.monotonic()
    while True:
        before = cpu_now(ctx)
        time.sleep(1)
        used = cpu_delta(before, cpu_now(ctx))
        other = used["other"] + used["pg other"]
        waited = time.monotonic() - started
        if other < ctx.args.quiet_threshold or waited > limit:
            if waited > 1.5:
                say(f"waited {waited:.0f}s for a quiet machine ({other:.0f}%)")
            return round(waited - 1, 1)
        time.sleep(1)


def wrk_run(
    ctx,
    script,
    path,
    conns,
    duration,
    script_args=(),
    profile=None,
    quiet=True,
):
    threads = max(1, min(ctx.args.wrk_threads, conns))
    argv = [
        ctx.wrk,
        f"-t{threads}",
        f"-c{conns}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "-s",
        str(BENCH / script),
        f"{ctx.stack.base_url}{path}",
    ]
    if script_args:
        argv += ["--", *script_args]
    waited = wait_for_quiet(ctx) if quiet else 0
    spies = start_profile(ctx, duration, profile) if profile else None
    before = cpu_now(ctx)
    wrk = subprocess.Popen(
        argv,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # How wrk's connections spread over the web workers, a second in.
    time.sleep(min(1.0, duration / 2))
    spread = connections_held(ctx.stack.web_workers(), ctx.stack.port)
    try:
        stdout, stderr = wrk.communicate(timeout=duration + 120)
    except subprocess.TimeoutExpired:
        wrk.kill()
        stdout, stderr = wrk.communicate()
    result = subprocess.CompletedProcess(argv, wrk.returncode, stdout, stderr)
    after = cpu_now(ctx)
    if spies:
        finish_profile(ctx, spies, profile)
    line = next(
        (
            line
            for line in result.stdout.splitlines()
            if line.startswith("BENCH_JSON ")
        ),
        None,
    )
    if result.returncode or line is None:
        raise BenchError(
            f"wrk failed ({result.returncode}):\n{result.stdout}\n"
            f"{result.stderr}"
        )
    data = json.loads(line.removeprefix("BENCH_JSON "))
    seconds = data["duration_us"] / 1e6
    socket_errors = data["socket_errors"]
    # Non-2xx answers are counted by the script; socket errors and
    # timeouts are requests that got no answer at all.
    failed = data["bad_status"] + sum(
        socket_errors[k] for k in ("connect", "read", "write", "timeout")
    )
    ok = data["requests"] - data["bad_status"]
    lat = data["latency_us"]
    run = {
        "connections": conns,
        "wrk_threads": threads,
        "seconds": round(seconds, 2),
        "requests": data["requests"],
        "ok": ok,
        "errors": failed,
        "socket_errors": socket_errors,
        "rps": round(ok / seconds, 1),
        "latency_ms": {
            k: round(lat[k] / 1000, 2)
            for k in ("p50", "p90", "p99", "p999", "mean", "max")
        },
        "cpu_percent": cpu_delta(before, after),
        "connections_per_web_worker": spread,
    }
    run["cpu_ms_per_request"] = cost_per_request(run)
    if waited:
        run["waited_for_quiet_seconds"] = waited
    if data["bad_sample"]:
        run["error_sample"] = data["bad_sample"]
    return run


def cost_per_request(run):
    """CPU milliseconds each kind of process spent per answered request:
    the figure that survives a noisy machine, unlike requests/s."""
    if not run["rps"]:
        return {role: None for role in COST_ROLES}
    cpu = run["cpu_percent"]
    return {role: round(cpu[role] * 10 / run["rps"], 3) for role in COST_ROLES}


def say_run(label, run):
    lat = run["latency_ms"]
    cpu = run["cpu_percent"]
    say(
        f"{label:7} c={run['connections']:<3} {run['rps']:8.1f} req/s  "
        f"p50 {lat['p50']:7.2f} ms  p99 {lat['p99']:8.2f} ms  "
        f"errors {run['errors']}  cpu% web {cpu['web']:.0f} "
        f"pg {cpu['pg']:.0f} wrk {cpu['wrk']:.0f} rq {cpu['rq']:.0f} "
        f"other {cpu['other'] + cpu['pg other']:.0f} "
        f"machine {cpu['machine']:.0f}  conns/worker "
        f"{'/'.join(map(str, run['connections_per_web_worker']))}"
    )
    cost = run["cpu_ms_per_request"]
    if cost["web"] is not None:
        say(
            f"        CPU ms per request: web {cost['web']:.3f} "
            f"pg {cost['pg']:.3f} redis {cost['redis']:.3f} "
            f"rq {cost['rq']:.3f}"
        )
    if run.get("error_sample"):
        say(f"        first bad answer: {run['error_sample'][:200]}")


def wrk_point(ctx, label, script, path, conns, script_args=(), profile=None):
    """One point of a curve: ``--repeat`` runs, the median by throughput
    reported (all of them kept under 'attempts'). Repeats smooth over
    how keep-alive connections happened to spread over the workers."""
    attempts = []
    for i in range(ctx.args.repeat):
        run = wrk_run(
            ctx,
            script,
            path,
            conns,
            ctx.args.duration,
            script_args,
            profile=profile if i == 0 else None,
        )
        say_run(label, run)
        attempts.append(run)
    if len(attempts) == 1:
        return attempts[0]
    ranked = sorted(attempts, key=lambda run: run["rps"])
    chosen = dict(ranked[len(ranked) // 2])
    chosen["attempts"] = [
        {
            "rps": run["rps"],
            "p50_ms": run["latency_ms"]["p50"],
            "p99_ms": run["latency_ms"]["p99"],
            "connections_per_web_worker": run["connections_per_web_worker"],
            "other_cpu_percent": run["cpu_percent"]["other"],
            "cpu_ms_per_request": run["cpu_ms_per_request"],
        }
        for run in attempts
    ]
    chosen["ok_all_attempts"] = sum(run["ok"] for run in attempts)
    chosen["errors"] = sum(run["errors"] for run in attempts)
    say(
        f"{label:7} c={conns:<3} median of {len(attempts)}: "
        f"{chosen['rps']:.1f} req/s (runs: "
        f"{', '.join(str(run['rps']) for run in attempts)})"
    )
    return chosen
