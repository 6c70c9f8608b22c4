"""The phases but the burst: ping, orders, hot, steady, big, servers;
the customers they order as, and what every phase shares (``Context``).
Import it after ``database.setup_django``."""

import os
import secrets
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import redis

from bench import books, seed
from bench.common import BenchError, say
from bench.load import (
    cost_per_request,
    cpu_now,
    wait_for_quiet,
    wrk_point,
    wrk_run,
)
from bench.processes import cpu_delta
from bench.steady import steady_run
from bench.workload import OPERATOR
from core.money import MAX_BALANCE
from core.testing.live import http

# The 'steady' phase's offered loads, as fractions of the measured maximum.
STEADY_FRACTIONS = (0.25, 0.5, 0.75)


class Context:
    """What the phases share: the options, the stack, the results."""

    def __init__(self, args, env, stack, wrk, keys_file, log_dir, sampler):
        self.args = args
        self.database = env["DATABASE_URL"].rsplit("/", 1)[1]
        self.env = env
        self.stack = stack
        self.wrk = wrk
        self.keys_file = keys_file
        self.log_dir = log_dir
        self.sampler = sampler
        self.results = {"phases": {}}
        self.failures = []

    def phase(self, name):
        return self.results["phases"].setdefault(name, {})

    def audit(self, name):
        result = audit(self.stack, name)
        self.phase(name)["audit"] = result
        if not result["ok"]:
            self.failures.append(f"audit_ledger failed after {name}")
        return result

    def reset(self, workers=1):
        """Stop the workers, empty their queue and the order tables,
        start the workers again."""
        self.stack.stop_workers()
        redis.Redis.from_url(self.env["REDIS_URL"]).flushdb()
        seed.reset()
        if workers:
            self.stack.start_workers(workers)

    def note_errors(self, name, runs):
        bad = sum(r["errors"] for r in runs)
        if bad:
            self.failures.append(f"{name}: {bad} request(s) failed")


def audit(stack, phase):
    """``manage.py audit_ledger`` of the code under test."""
    started = time.monotonic()
    result = stack.manage("audit_ledger")
    seconds = time.monotonic() - started
    output = result.stdout.strip()
    ok = result.returncode == 0
    say(
        f"audit_ledger after {phase}: {'OK' if ok else 'FAILED'} "
        f"({seconds:.1f}s)"
    )
    if not ok:
        print(output[-3000:], file=sys.stderr)
    return {
        "ok": ok,
        "exit_code": result.returncode,
        "seconds": round(seconds, 2),
        "output": output[-2000:],
    }


def setup_customers(ctx):
    """The operator, through the management command; 1,000 customers
    with the largest balance, through the API. Their keys go to a file
    for the wrk script."""
    password = secrets.token_urlsafe(18)
    # A name of this run's own: the command leaves an existing user (of
    # an earlier run on a reused database) and its password alone.
    operator = f"{OPERATOR}-{secrets.token_hex(4)}"
    env = dict(
        ctx.env,
        DJANGO_SUPERUSER_USERNAME=operator,
        DJANGO_SUPERUSER_PASSWORD=password,
    )
    made = ctx.stack.manage("create_demo_operator", env=env)
    if made.returncode:
        raise BenchError(f"create_demo_operator failed:\n{made.stdout}")
    base = ctx.stack.base_url
    status, body, _ = http(
        "POST",
        f"{base}/api/token/",
        body={"username": operator, "password": password},
        timeout=30,
    )
    if status != 200:
        raise BenchError(f"POST /api/token/ answered {status}: {body}")
    token = body["token"]

    def create(i):
        status, body, _ = http(
            "POST",
            f"{base}/api/customer/",
            body={"name": f"bench customer {i}", "balance": str(MAX_BALANCE)},
            token=token,
            timeout=30,
        )
        if status != 201:
            raise BenchError(f"POST /api/customer/ answered {status}: {body}")
        return body["api_key"]

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        keys = list(pool.map(create, range(1, ctx.args.customers + 1)))
    fd = os.open(ctx.keys_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(keys) + "\n")
    seconds = time.monotonic() - started
    say(f"created {len(keys)} customers through the API in {seconds:.1f}s")
    ctx.results["setup"] = {
        "customers": len(keys),
        "customer_create_seconds": round(seconds, 1),
    }
    return keys


def warm_up(ctx):
    seconds = 1 if ctx.args.quick else 3
    say(f"warming up ({seconds}s ping, {seconds}s orders at 8 connections)")
    warm = {"quiet": False}
    wrk_run(ctx, "ping.lua", "/api/ping/", 8, seconds, **warm)
    wrk_run(
        ctx, "order.lua", "/api/order/", 8, seconds, [ctx.keys_file], **warm
    )


def phase_ping(ctx):
    runs = []
    for conns in ctx.args.connections:
        runs.append(wrk_point(ctx, "ping", "ping.lua", "/api/ping/", conns))
    ctx.phase("ping")["runs"] = runs
    ctx.note_errors("ping", runs)


def order_series(ctx, name, mode):
    runs = []
    extra_ok = extra_conns = 0
    existing = sum(books.order_counts().values())
    for conns in ctx.args.connections:
        profile = None
        if (
            ctx.args.profile
            and name == "orders"
            and conns == ctx.args.profile_connections
        ):
            profile = (ctx.log_dir, "active", [])
        run = wrk_point(
            ctx,
            name,
            "order.lua",
            "/api/order/",
            conns,
            [ctx.keys_file, mode],
            profile=profile,
        )
        runs.append(run)
        if profile:
            # Once more, sampling only the thread that holds the GIL:
            # where the CPU goes, not the waits. Not in the table.
            extra = wrk_run(
                ctx,
                "order.lua",
                "/api/order/",
                conns,
                ctx.args.duration,
                [ctx.keys_file, mode],
                profile=(ctx.log_dir, "gil", ["--gil"]),
            )
            extra_ok += extra["ok"]
            extra_conns += conns
    phase = ctx.phase(name)
    phase["runs"] = runs
    phase["mode"] = mode
    counts = books.order_counts()
    phase["orders_in_db"] = counts
    # Every 201 is an order in the database; a few more may be there,
    # answered after wrk stopped reading.
    answered = sum(r.get("ok_all_attempts", r["ok"]) for r in runs)
    answered += extra_ok
    stored = sum(counts.values()) - existing
    slack = sum(r["connections"] for r in runs) * ctx.args.repeat
    slack += extra_conns
    if not answered <= stored <= answered + slack:
        ctx.failures.append(
            f"{name}: {answered} orders answered 201 but {stored} stored"
        )
    ctx.note_errors(name, runs)
    ping = {
        r["connections"]: r["rps"] for r in ctx.phase("ping").get("runs", [])
    }
    for run in runs:
        if ping.get(run["connections"]):
            run["vs_ping"] = round(run["rps"] / ping[run["connections"]], 3)


def phase_orders(ctx):
    ctx.reset()
    order_series(ctx, "orders", "mix")
    ctx.audit("orders")


def phase_hot(ctx):
    ctx.reset()
    order_series(ctx, "hot", "hot")
    ctx.audit("hot")


def phase_steady(ctx, keys):
    """Orders at a constant offered rate (open loop, bench/steady.py) of
    25%, 50% and 75% of the maximum that wrk measured at 32 connections
    (measured here if the 'orders' phase did not run): p50, p99 and
    p99.9 counted from when each request was due."""
    best = [
        run
        for run in ctx.phase("orders").get("runs", [])
        if run["connections"] == 32
    ]
    if best:
        maximum = best[0]["rps"]
    else:
        ctx.reset()
        run = wrk_point(
            ctx,
            "max",
            "order.lua",
            "/api/order/",
            32,
            [ctx.keys_file, "mix"],
        )
        maximum = run["rps"]
    ctx.reset()
    points = []
    for fraction in STEADY_FRACTIONS:
        wait_for_quiet(ctx)
        before = cpu_now(ctx)
        point = steady_run(
            host="127.0.0.1",
            port=ctx.stack.port,
            keys=keys,
            rate=maximum * fraction,
            seconds=ctx.args.duration,
        )
        point["cpu_percent"] = cpu_delta(before, cpu_now(ctx))
        point["rps"] = point["achieved_rps"]
        point["cpu_ms_per_request"] = cost_per_request(point)
        point["fraction_of_max"] = fraction
        lat = point["latency_ms"]
        say(
            f"steady  {fraction:.0%} of {maximum:.0f}/s: offered "
            f"{point['offered_rps']}/s, answered {point['achieved_rps']}/s  "
            f"p50 {lat['p50']} ms  p99 {lat['p99']} ms  p99.9 "
            f"{lat['p999']} ms  max {lat['max']} ms  errors "
            f"{point['errors']}  cpu% other "
            f"{point['cpu_percent']['other']:.0f}"
        )
        points.append(point)
    phase = ctx.phase("steady")
    phase["max_rps"] = maximum
    phase["points"] = points
    ctx.note_errors("steady", points)
    ctx.audit("steady")


def phase_big(ctx):
    ctx.reset(workers=0)
    count = ctx.args.big_orders
    say(f"seeding {count:,} completed orders (COPY, names from the models)")
    started = time.monotonic()
    seeded = seed.seed_history(count)
    seconds = time.monotonic() - started
    say(
        f"seeded {seeded['orders']:,} orders in {seeded['purchases']:,} "
        f"purchases in {seconds:.1f}s"
    )
    ctx.phase("big")["seed"] = dict(seeded, seconds=round(seconds, 1))
    before = ctx.audit("big")
    ctx.phase("big")["audit_before_load"] = ctx.phase("big").pop("audit")
    if not before["ok"]:
        ctx.failures.append("audit_ledger failed on the seeded history")
    ctx.stack.start_workers(1)
    order_series(ctx, "big", "mix")
    ctx.audit("big")


def phase_servers(ctx):
    args = ctx.args
    conns = args.server_connections
    configs = []
    for worker_class, workers, threads in args.servers:
        label = f"{worker_class} {workers}x{threads}"
        say(f"servers: restarting the web server as {label}")
        ctx.stack.stop_web()
        ctx.sampler.set_phase(f"servers {label}")
        ctx.stack.start_web(worker_class, workers, threads)
        warm = {"quiet": False}
        wrk_run(ctx, "ping.lua", "/api/ping/", 8, 1, **warm)
        wrk_run(ctx, "order.lua", "/api/order/", 8, 1, [ctx.keys_file], **warm)
        ping = wrk_point(ctx, "ping", "ping.lua", "/api/ping/", conns)
        ctx.reset()
        orders = wrk_point(
            ctx,
            "orders",
            "order.lua",
            "/api/order/",
            conns,
            [ctx.keys_file, "mix"],
        )
        orders["vs_ping"] = round(orders["rps"] / ping["rps"], 3)
        memory = ctx.sampler.report()["by_phase"].get(f"servers {label}", {})
        configs.append(
            {
                "worker_class": worker_class,
                "WEB_CONCURRENCY": workers,
                "WEB_THREADS": threads,
                "ping": ping,
                "orders": orders,
                "web_worker_peak_mib": memory.get("web worker"),
            }
        )
        ctx.note_errors(f"servers {label}", [ping, orders])
    ctx.phase("servers")["connections"] = conns
    ctx.phase("servers")["configs"] = configs
    ctx.audit("servers")
