"""The 'burst' phase: orders at an even pace at the real exchange
latency, then the wait until every order is completed, and what it
cost at the exchange. Import it after ``database.setup_django``."""

import http.client
import itertools
import json
import random
import threading
import time

from bench import books
from bench.common import say
from bench.workload import MIX, THRESHOLD
from orders.models import Order

SUBMITTED = Order.Status.SUBMITTED.value
COMPLETED = Order.Status.COMPLETED.value
PENDING = Order.Status.PENDING.value


def burst_orders(count):
    """Half small, half large, over the five cryptos, shuffled."""
    orders = []
    for i in range(count):
        symbol, small, large = MIX[i % len(MIX)]
        amount = small if (i // len(MIX)) % 2 == 0 else large
        orders.append((symbol, amount))
    random.Random(5).shuffle(orders)
    return orders


def percentile(ordered, fraction):
    """The ``fraction`` percentile of sorted values, interpolated as
    PostgreSQL's percentile_cont does; None for no values."""
    if not ordered:
        return None
    at = fraction * (len(ordered) - 1)
    low = int(at)
    high = min(low + 1, len(ordered) - 1)
    value = ordered[low] + (ordered[high] - ordered[low]) * (at - low)
    return round(value, 2)


def naive_exchange_calls(rows):
    """One call per large order, one per pool flush, as the original
    design would make them, from the orders in the order they came."""
    calls = 0
    pools = {}
    for _id, symbol, total in rows:
        if total >= THRESHOLD:
            calls += 1
            continue
        pools[symbol] = pools.get(symbol, 0) + total
        if pools[symbol] >= THRESHOLD:
            calls += 1
            pools[symbol] = 0
    return calls


def send_burst(ctx, keys, orders, seconds, senders=16):
    """POST the orders at an even pace over ``seconds``."""
    host, port = "127.0.0.1", ctx.stack.port
    count = len(orders)
    start = time.monotonic() + 0.2
    counter = itertools.count()
    results = [None] * count
    rng = random.Random(6)
    chosen = [rng.choice(keys) for _ in orders]

    def sender():
        conn = http.client.HTTPConnection(host, port, timeout=30)
        while True:
            i = next(counter)
            if i >= count:
                break
            due = start + i * seconds / count
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            symbol, amount = orders[i]
            body = json.dumps({"crypto": symbol, "amount": amount})
            headers = {
                "Authorization": f"Token {chosen[i]}",
                "Content-Type": "application/json",
            }
            sent = time.monotonic()
            try:
                conn.request("POST", "/api/order/", body, headers)
                answer = conn.getresponse()
                answer.read()
                status = answer.status
                if answer.getheader("Connection", "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=30)
                status = None
            results[i] = (status, time.monotonic() - sent, sent - due)
        conn.close()

    threads = [threading.Thread(target=sender) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, time.monotonic() - start


def phase_burst(ctx, keys):
    args = ctx.args
    ctx.reset(workers=args.burst_workers)
    orders = burst_orders(args.burst_orders)
    say(
        f"burst: {len(orders)} orders over {args.burst_seconds:g}s, "
        f"{args.burst_workers} workers, exchange latency "
        f"{args.exchange_latency:g}s"
    )
    results, sent_seconds = send_burst(ctx, keys, orders, args.burst_seconds)
    statuses = {}
    for status, _, _ in results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    latencies = sorted(r[1] for r in results)
    lateness = max(r[2] for r in results)
    ok = statuses.get("201", 0)
    say(
        f"burst: sent in {sent_seconds:.1f}s, answers {statuses}, "
        f"request p99 {1000 * latencies[int(0.99 * (len(latencies) - 1))]:.0f}"
        " ms"
    )
    if ok != len(orders):
        ctx.failures.append(f"burst: {len(orders) - ok} order(s) refused")

    # Wait until no order waits for the exchange. Small orders left in a
    # pool below the threshold stay pending by design.
    sent_at = time.monotonic()
    last_report = sent_at
    drained = False
    while True:
        counts = books.order_counts()
        submitted = counts.get(SUBMITTED, 0)
        if submitted == 0:
            drained = True
            break
        now = time.monotonic()
        if now - sent_at > args.burst_timeout:
            break
        if now - last_report >= 10:
            calls = books.exchange_calls()
            say(
                f"burst: {now - sent_at:5.0f}s after the last order: "
                f"{counts.get('completed', 0)} completed, {submitted} "
                f"submitted, {counts.get('pending', 0)} pending; "
                f"{calls['buy_calls']} exchange calls"
            )
            last_report = now
        time.sleep(0.5)
    waited = time.monotonic() - sent_at
    counts = books.order_counts()
    calls = books.exchange_calls()
    times = books.order_times()
    first_created = times["first_created"]
    last_created = times["last_created"]
    last_completed = times["last_completed"]
    completion = books.completion_seconds()
    purchases = books.purchase_counts()
    rows = books.orders_as_they_came()
    naive = naive_exchange_calls(rows)
    large = sum(1 for _, _, total in rows if total >= THRESHOLD)
    drain = None
    if drained and last_completed and last_created:
        drain = (last_completed - last_created).total_seconds()
    projected = None
    if not drained:
        done = counts.get(COMPLETED, 0)
        rate = done / max(waited + args.burst_seconds, 1)
        if rate > 0:
            projected = round(counts.get(SUBMITTED, 0) / rate + waited)
    burst = {
        "orders": len(orders),
        "seconds": args.burst_seconds,
        "workers": args.burst_workers,
        "exchange_latency_seconds": args.exchange_latency,
        "sent_seconds": round(sent_seconds, 1),
        "max_send_lateness_seconds": round(lateness, 2),
        "answers": statuses,
        "request_latency_ms": {
            "p50": round(1000 * latencies[len(latencies) // 2], 1),
            "p99": round(
                1000 * latencies[int(0.99 * (len(latencies) - 1))], 1
            ),
            "max": round(1000 * latencies[-1], 1),
        },
        "drained": drained,
        "waited_seconds": round(waited, 1),
        "orders_by_status": counts,
        "left_in_pools": counts.get(PENDING, 0),
        "large_orders": large,
        "purchases": {
            "total": purchases["total"],
            "completed": purchases["completed"],
            "unfinished": purchases["unfinished"],
        },
        "exchange": calls,
        "naive_exchange_calls": naive,
        "naive_exchange_seconds_at_workers": round(
            naive * args.exchange_latency / args.burst_workers, 1
        ),
        "last_order_to_last_completion_seconds": (
            round(drain, 2) if drain is not None else None
        ),
        "first_order_to_last_completion_seconds": (
            round((last_completed - first_created).total_seconds(), 2)
            if drained and last_completed
            else None
        ),
        "order_completion_seconds": {
            "p50": percentile(completion, 0.5),
            "p99": percentile(completion, 0.99),
            "max": round(completion[-1], 2) if completion else None,
        },
        "projected_seconds_to_drain": projected,
    }
    ctx.phase("burst").update(burst)
    if drained:
        say(
            f"burst: drained; {calls['buy_calls']} exchange calls "
            f"(naive {naive}), last order -> last completion "
            f"{drain:.1f}s"
        )
    else:
        say(
            f"burst: NOT drained after {waited:.0f}s: "
            f"{counts.get('submitted', 0)} orders still submitted; "
            f"{calls['buy_calls']} exchange calls so far (naive {naive})"
            + (f"; projected ~{projected}s" if projected else "")
        )
    ctx.stack.stop_workers()
    ctx.audit("burst")
