"""The results: the printed table, the JSON file and the PNG plot."""

import json

from bench.common import RESULTS, say
from bench.processes import COST_ROLES


def spread(run):
    return "/".join(map(str, run.get("connections_per_web_worker", [])))


def cost_text(run):
    cost = run.get("cpu_ms_per_request")
    if not cost or cost["web"] is None:
        return "-"
    return "/".join(f"{cost[role]:.2f}" for role in COST_ROLES)


def table_lines(results):
    phases = results["phases"]
    lines = []
    head = (
        f"{'phase':8} {'conns':>5} {'req/s':>9} {'p50 ms':>8} "
        f"{'p99 ms':>9} {'errors':>7} {'vs ping':>8}  "
        f"{'cpu% web/pg/wrk/other':>22}  {'conns/worker':>12}  "
        f"{'CPU ms/req web/pg/redis/rq':>27}"
    )
    lines += [head, "-" * len(head)]
    for name in ("ping", "orders", "hot", "big"):
        for run in phases.get(name, {}).get("runs", []):
            lat = run["latency_ms"]
            cpu = run["cpu_percent"]
            ratio = run.get("vs_ping")
            lines.append(
                f"{name:8} {run['connections']:>5} {run['rps']:>9.1f} "
                f"{lat['p50']:>8.2f} {lat['p99']:>9.2f} "
                f"{run['errors']:>7} "
                f"{(f'{ratio:.2f}' if ratio else '-'):>8}  "
                f"{cpu['web']:>7.0f}/{cpu['pg']:.0f}/{cpu['wrk']:.0f}/"
                f"{cpu['other'] + cpu['pg other']:<4.0f}"
                f"{spread(run):>10}  {cost_text(run):>27}"
            )
    steady = phases.get("steady", {})
    if steady.get("points"):
        lines.append("")
        lines.append(
            f"steady (open loop, latency from when each order was due), "
            f"max {steady['max_rps']:.0f} orders/s:"
        )
        for point in steady["points"]:
            lat = point["latency_ms"]
            lines.append(
                f"  {point['fraction_of_max']:>4.0%} offered "
                f"{point['offered_rps']:>7.1f}/s answered "
                f"{point['achieved_rps']:>7.1f}/s  p50 {lat['p50']:>7.2f}  "
                f"p99 {lat['p99']:>8.2f}  p99.9 {lat['p999']:>8.2f} ms  "
                f"errors {point['errors']}  CPU ms/req {cost_text(point)}"
            )
    big = phases.get("big", {})
    if big.get("seed"):
        seed = big["seed"]
        lines.append(
            f"big: {seed['orders']:,} existing orders in "
            f"{seed['purchases']:,} purchases, seeded in {seed['seconds']}s"
        )
    burst = phases.get("burst")
    if burst and "orders" in burst:
        lines.append("")
        lines.append(
            f"burst: {burst['orders']} orders in {burst['seconds']:g}s "
            f"({burst['large_orders']} large), {burst['workers']} workers, "
            f"exchange latency {burst['exchange_latency_seconds']:g}s"
        )
        calls = burst["exchange"]
        lines.append(
            f"  exchange calls {calls['buy_calls']} "
            f"({calls['client_orders']} client orders) for "
            f"{burst['purchases']['total']} purchases; naive design: "
            f"{burst['naive_exchange_calls']} calls "
            f"(= {burst['naive_exchange_seconds_at_workers']:g}s of exchange "
            f"time on {burst['workers']} workers)"
        )
        if burst["drained"]:
            comp = burst["order_completion_seconds"]
            lines.append(
                f"  last order -> last completion "
                f"{burst['last_order_to_last_completion_seconds']}s; "
                f"order -> completed p50 {comp['p50']}s p99 {comp['p99']}s "
                f"max {comp['max']}s; {burst['left_in_pools']} small "
                f"order(s) left pending in pools (below the threshold)"
            )
        else:
            status = burst["orders_by_status"]
            lines.append(
                f"  NOT drained {burst['waited_seconds']}s after the last "
                f"order: {status.get('submitted', 0)} submitted, "
                f"{status.get('completed', 0)} completed; projected "
                f"~{burst['projected_seconds_to_drain']}s"
            )
        lines.append(
            f"  requests: {burst['answers']}, p50 "
            f"{burst['request_latency_ms']['p50']} ms, p99 "
            f"{burst['request_latency_ms']['p99']} ms"
        )
    servers = phases.get("servers", {}).get("configs")
    if servers:
        lines.append("")
        lines.append(
            f"servers at {phases['servers']['connections']} connections:"
        )
        lines.append(
            f"  {'config':14} {'ping/s':>8} {'orders/s':>9} "
            f"{'p50 ms':>8} {'p99 ms':>9} {'errors':>7} {'worker MiB':>10}"
            f"  {'conns/worker':>12}"
        )
        for cfg in servers:
            label = (
                f"{cfg['worker_class']} {cfg['WEB_CONCURRENCY']}x"
                f"{cfg['WEB_THREADS']}"
            )
            orders = cfg["orders"]
            lines.append(
                f"  {label:14} {cfg['ping']['rps']:>8.1f} "
                f"{orders['rps']:>9.1f} "
                f"{orders['latency_ms']['p50']:>8.2f} "
                f"{orders['latency_ms']['p99']:>9.2f} "
                f"{orders['errors'] + cfg['ping']['errors']:>7} "
                f"{cfg['web_worker_peak_mib'] or 0:>10}  "
                f"{spread(orders):>12}"
            )
    audits = [
        f"{name}: {'OK' if p['audit']['ok'] else 'FAILED'}"
        for name, p in phases.items()
        if "audit" in p
    ]
    if audits:
        lines.append("")
        lines.append("audit_ledger: " + ", ".join(audits))
    memory = results.get("memory", {}).get("overall")
    if memory:
        lines.append(
            "peak memory (VmHWM, MiB): "
            + ", ".join(f"{k} {v}" for k, v in sorted(memory.items()))
            + f"; all web workers together "
            f"{results['memory']['web_workers_sum_peak']}"
        )
    return lines


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    phases = results["phases"]
    names = [n for n in ("ping", "orders", "hot", "big") if n in phases]
    if not names:
        return False
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
    colors = {
        "ping": "tab:gray",
        "orders": "tab:blue",
        "hot": "tab:red",
        "big": "tab:green",
    }
    labels = {
        "ping": "ping (ceiling)",
        "orders": "orders (mix)",
        "hot": "hot (one pool)",
        "big": "big",
    }
    seeded = phases.get("big", {}).get("seed", {}).get("orders")
    if seeded:
        labels["big"] = f"big ({seeded:,} orders before)"
    for name in names:
        runs = phases[name].get("runs", [])
        if not runs:
            continue
        conns = [r["connections"] for r in runs]
        color = colors[name]
        left.plot(
            conns,
            [r["rps"] for r in runs],
            "o-",
            color=color,
            label=labels[name],
        )
        right.plot(
            conns,
            [r["latency_ms"]["p50"] for r in runs],
            "o-",
            color=color,
            label=f"{name} p50",
        )
        right.plot(
            conns,
            [r["latency_ms"]["p99"] for r in runs],
            "s--",
            color=color,
            label=f"{name} p99",
        )
    ticks = results["meta"]["args"]["connections"]
    for axis in (left, right):
        axis.set_xscale("log", base=2)
        axis.set_xticks(ticks)
        axis.set_xticklabels([str(t) for t in ticks])
        axis.set_xlabel("concurrent connections")
        axis.grid(True, which="both", alpha=0.3)
    left.set_yscale("log")
    left.set_ylabel("successful requests / s (log)")
    left.set_title("throughput")
    left.legend(fontsize=8)
    right.set_yscale("log")
    right.set_ylabel("latency (ms)")
    right.set_title("latency p50 (solid) and p99 (dashed)")
    right.legend(fontsize=7, ncol=2)
    meta = results["meta"]
    web = meta["web"]
    fig.suptitle(
        f"POST /api/order/ vs GET /api/ping/ - "
        f"{web['worker_class']} "
        f"{web['WEB_CONCURRENCY'].split()[0]}x"
        f"{web['WEB_THREADS'].split()[0]}, "
        f"{meta['cpus']} cores, {meta['duration']}s per point, "
        f"{meta['git']}",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write_results(results, name, no_plot):
    """bench/results/NAME.json (and NAME.png unless ``no_plot``), then
    the table; returns the paths written."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    json_path = RESULTS / f"{name}.json"
    tmp = json_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2, default=str) + "\n")
    tmp.replace(json_path)
    png_path = RESULTS / f"{name}.png"
    plotted = False
    if not no_plot:
        try:
            plotted = plot(results, png_path)
        except ImportError:
            say(
                "matplotlib is missing (pip install -r requirements-bench.txt)"
            )
    print()
    for line in table_lines(results):
        print(line)
    print()
    say(f"results: {json_path}" + (f", {png_path}" if plotted else ""))
