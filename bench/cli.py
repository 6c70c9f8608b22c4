"""The command line of ``make bench`` and the run: where it works, what
it starts, which phases it runs, and what it writes."""

import argparse
import os
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import redis

import bench
from bench import database
from bench.code import code_fingerprint, git_state, snapshot_code
from bench.common import ROOT, BenchError, say
from bench.load import ensure_wrk
from bench.processes import Sampler
from bench.report import write_results
from bench.stack import Stack
from bench.workload import THRESHOLD
from core.testing.live import free_port

ALL_PHASES = ["ping", "orders", "hot", "steady", "big", "burst", "servers"]
DEFAULT_PHASES = ["ping", "orders", "hot", "steady", "big", "burst"]
# Web servers compared by the 'servers' phase: ("granian" or a gunicorn
# worker class, processes, threads per process). "granian" is the shipped
# server (serve.py, WEB_CONCURRENCY x WEB_THREADS; 2x4 is its default);
# gunicorn, the server it replaced, is a requirement of the benchmark
# only, run with bench/gunicorn.conf.py.
SERVER_CONFIGS = [
    ("gthread", 4, 2),
    ("gthread", 2, 4),
    ("gthread", 2, 8),
    ("granian", 2, 4),
    ("granian", 4, 2),
    ("gthread", 2, 1),
    ("sync", 2, 1),
    ("sync", 4, 1),
    ("sync", 6, 1),
]


def server_configs(text):
    """``granian:2x4,gthread:4x2`` -> [("granian", 2, 4), ...]."""
    configs = []
    for item in text.split(","):
        kind, _, shape = item.strip().partition(":")
        workers, _, threads = shape.partition("x")
        known = {kind for kind, _, _ in SERVER_CONFIGS}
        if kind not in known or not workers.isdigit() or not threads.isdigit():
            raise argparse.ArgumentTypeError(
                f"{item!r}: expected KIND:PROCESSESxTHREADS, KIND one of "
                f"{', '.join(sorted(known))}"
            )
        configs.append((kind, int(workers), int(threads)))
    return configs


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="make bench ARGS=...",
        description=bench.__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: short durations, fewer orders (< 2 minutes)",
    )
    parser.add_argument(
        "--phases",
        default=",".join(DEFAULT_PHASES),
        help=f"comma list of {','.join(ALL_PHASES)}, or 'all'",
    )
    parser.add_argument(
        "--duration",
        type=int,
        help="seconds of load per concurrency level (default 10; quick 2)",
    )
    parser.add_argument(
        "--connections",
        default="1,8,32,64",
        help="concurrency levels (wrk connections)",
    )
    parser.add_argument(
        "--wrk-threads",
        type=int,
        default=1,
        help="wrk threads (capped at the connections)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs per load point; the median by throughput is reported",
    )
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument(
        "--big-orders",
        type=int,
        help="existing orders of the 'big' phase (default 1,000,000; "
        "quick 100,000)",
    )
    parser.add_argument(
        "--burst-orders",
        type=int,
        help="orders of the burst (default 2000; quick 200)",
    )
    parser.add_argument(
        "--burst-seconds",
        type=float,
        help="the burst's length (default 30; quick 10)",
    )
    parser.add_argument("--burst-workers", type=int, default=2)
    parser.add_argument(
        "--burst-timeout",
        type=float,
        help="longest wait for the burst's orders to complete, from its "
        "last order (default 600; quick 30)",
    )
    parser.add_argument(
        "--exchange-latency",
        type=float,
        default=5.0,
        help="EXCHANGE_LATENCY_SECONDS of the simulated exchange",
    )
    parser.add_argument(
        "--servers",
        type=server_configs,
        default=SERVER_CONFIGS,
        metavar="KIND:PxT,...",
        help="the 'servers' phase's configurations, in order, e.g. "
        "granian:2x4,gthread:4x2,granian:2x4 (a kind may repeat, for "
        "an A/B that alternates); default: all of SERVER_CONFIGS",
    )
    parser.add_argument(
        "--server-connections",
        type=int,
        default=32,
        help="connections of the 'servers' comparison",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy every web worker during the orders phase "
        "(needs py-spy in the virtualenv; not a requirement)",
    )
    parser.add_argument(
        "--profile-connections",
        type=int,
        default=32,
        help="the orders level at which --profile samples",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=0,
        help="before each load run, wait up to this many seconds for "
        "other processes on the machine to calm down (shared machines)",
    )
    parser.add_argument(
        "--quiet-threshold",
        type=float,
        default=25,
        help="'quiet': other processes use under this percent of a core",
    )
    parser.add_argument(
        "--no-snapshot",
        dest="snapshot",
        action="store_false",
        help="run the service from the repository itself instead of a "
        "copy of its code taken at the start (then an edit during the run "
        "is measured by the phases after it, and fails the run)",
    )
    parser.add_argument(
        "--reuse-db",
        action="store_true",
        help="keep the bench database instead of re-creating it",
    )
    parser.add_argument(
        "--name",
        help="results file name under bench/results/ (default: 'bench', "
        "or 'quick' with --quick)",
    )
    parser.add_argument(
        "--no-plot", action="store_true", help="skip the PNG plot"
    )
    args = parser.parse_args(argv)
    quick = args.quick
    defaults = {
        "duration": 2 if quick else 10,
        "big_orders": 100_000 if quick else 1_000_000,
        "burst_orders": 200 if quick else 2000,
        "burst_seconds": 10.0 if quick else 30.0,
        "burst_timeout": 30.0 if quick else 600.0,
        "name": "quick" if quick else "bench",
    }
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    names = [p.strip() for p in args.phases.split(",") if p.strip()]
    if names == ["all"]:
        names = list(ALL_PHASES)
    unknown = sorted(set(names) - set(ALL_PHASES))
    if unknown:
        parser.error(f"unknown phase(s): {', '.join(unknown)}")
    args.phases = [p for p in ALL_PHASES if p in names]
    args.connections = [int(c) for c in args.connections.split(",")]
    return args


def service_env(args, database_url, redis_url, tree):
    """The environment of the service under test, as ``make web`` and
    ``make worker`` would have it, on the bench's database and Redis."""
    env = dict(os.environ)
    for name in list(env):
        if name.startswith(("EXCHANGE_", "PURCHASE_", "SWEEP_")):
            del env[name]
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        PORT=str(free_port()),
        DJANGO_DEBUG="0",
        EXCHANGE_LATENCY_SECONDS=str(args.exchange_latency),
        PURCHASE_THRESHOLD=str(THRESHOLD),
        PYTHONUNBUFFERED="1",
        # The secret key and the embedded services' file stay the
        # repository's, also when running from a copy of the code.
        DATA_DIR=os.environ.get("DATA_DIR") or str(ROOT / ".data"),
    )
    return env


def run_phases(ctx, keys):
    """Every phase asked for, in order (the models import here, after
    Django is set up)."""
    from bench import phases
    from bench.burst import phase_burst

    runners = {
        "ping": phases.phase_ping,
        "orders": phases.phase_orders,
        "hot": phases.phase_hot,
        "steady": lambda ctx: phases.phase_steady(ctx, keys),
        "big": phases.phase_big,
        "burst": lambda ctx: phase_burst(ctx, keys),
        "servers": phases.phase_servers,
    }
    for name in ctx.args.phases:
        say(f"=== phase {name} ===")
        ctx.sampler.set_phase(name)
        runners[name](ctx)


def main(argv):
    args = parse_args(argv)
    for name in ("DATABASE_URL", "REDIS_URL"):
        if not os.environ.get(name):
            raise BenchError(
                f"{name} is not set; run through `make bench` (which "
                "starts the embedded services when needed)"
            )
    wrk = ensure_wrk()
    database_url, name = database.bench_database_url(
        os.environ["DATABASE_URL"]
    )
    redis_url = database.bench_redis_url(os.environ["REDIS_URL"])
    say(
        f"database {database.redacted(database_url)}, "
        f"redis {database.redacted(redis_url)}"
    )
    say(f"phases: {', '.join(args.phases)}")
    database.create_database(database_url, name, recreate=not args.reuse_db)

    described, changed = git_state()
    tree = ROOT
    if args.snapshot:
        tree = snapshot_code()
        say(f"running the service from a copy of its code: {tree}")
    log_dir = Path(tempfile.mkdtemp(prefix="crypto-bench-"))
    keys_file = log_dir / "customer-keys.txt"
    env = service_env(args, database_url, redis_url, tree)
    say(f"logs in {log_dir}")
    stack = Stack(env, log_dir, tree)
    say("migrating the bench database")
    migrated = stack.manage("migrate", "--noinput")
    if migrated.returncode:
        raise BenchError(f"migrate failed:\n{migrated.stdout[-3000:]}")
    database.setup_django(env)
    from bench import phases, seed

    seed.wipe_everyone()
    seed.ensure_cryptos()
    redis.Redis.from_url(redis_url).flushdb()

    sampler = Sampler(stack.roots)
    ctx = phases.Context(args, env, stack, wrk, keys_file, log_dir, sampler)
    wrk_version = subprocess.run(
        [wrk, "--version"], capture_output=True, text=True
    ).stdout.splitlines()
    started_at = datetime.now(UTC)
    exit_code = 0
    ctx.results["meta"] = {
        "started": started_at.isoformat(timespec="seconds"),
        "git": described,
        "code": (
            "a copy taken at the start"
            if args.snapshot
            else "the repository, live"
        ),
        "changed_files": changed,
        "cpus": os.cpu_count(),
        "duration": args.duration,
        "args": vars(args),
        "wrk": wrk_version[0] if wrk_version else "",
        "database": database.redacted(database_url),
        "redis": database.redacted(redis_url),
        "web": stack.web_config,
        "threshold": str(THRESHOLD),
        "exchange_latency_seconds": args.exchange_latency,
    }
    try:
        sampler.start()
        say(f"starting serve.py on port {env['PORT']} and one rqworker")
        stack.start_web()
        ctx.results["meta"]["web"] = stack.web_config
        stack.start_workers(1)
        keys = phases.setup_customers(ctx)
        phases.warm_up(ctx)
        run_phases(ctx, keys)
    except BenchError as err:
        say(f"ERROR: {err}")
        ctx.failures.append(str(err))
        exit_code = 2
    finally:
        sampler.stopped.set()
        stack.stop()
    ctx.results["memory"] = sampler.report()
    seen = stack.code_seen + [code_fingerprint(tree)]
    ctx.results["meta"]["code_fingerprints"] = seen
    if len(set(seen)) > 1:
        ctx.failures.append(
            "the service's code changed during the run (fingerprints "
            f"{', '.join(dict.fromkeys(seen))}): figures from before and "
            "after the change are not comparable"
        )
    ctx.results["meta"]["finished"] = datetime.now(UTC).isoformat(
        timespec="seconds"
    )
    ctx.results["failures"] = ctx.failures
    if tree != ROOT:
        shutil.rmtree(tree, ignore_errors=True)

    write_results(ctx.results, args.name, args.no_plot)
    say(f"logs: {log_dir}")
    if ctx.failures:
        say("FAILED: " + "; ".join(ctx.failures))
        exit_code = exit_code or 1
    return exit_code


def run(argv):
    """``bench/run.py``: main, with one line for an expected failure."""
    try:
        return main(argv)
    except BenchError as err:
        say(f"ERROR: {err}")
        return 2
    except KeyboardInterrupt:
        return 130
