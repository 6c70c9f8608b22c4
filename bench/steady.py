"""Open-loop load at a constant offered rate: latency as users feel it.

wrk is closed-loop: a slow answer delays the next request, so a stall
hides itself. Here request i is due at ``start + i / rate`` whatever
became of the earlier ones, and its latency counts from when it was due:
a request that waited for a free connection because the server fell
behind pays for that wait (no coordinated omission, as wrk2 measures).

The load is the 'orders' phase's mix (bench/order.lua): random customers,
half small and half large orders over five cryptos, on keep-alive
connections to the web server.
"""

import asyncio
import json
import random
from collections import Counter

# Keep in step with MIX in bench/order.lua.
MIX = [
    ("ABAN", "0.5"),
    ("BTC", "0.00005"),
    ("ETH", "0.001"),
    ("SOL", "0.02"),
    ("DOGE", "20"),
    ("ABAN", "5"),
    ("BTC", "0.001"),
    ("ETH", "0.01"),
    ("SOL", "0.5"),
    ("DOGE", "200"),
]


class _Connection:
    def __init__(self, host, port):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def request(self, raw):
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(
                self.host, self.port
            )
        self.writer.write(raw)
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("closed by the server")
        status = int(status_line.split()[1])
        length, chunked, close = 0, False, False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value:
                chunked = True
            elif name == "connection" and value == "close":
                close = True
        if chunked:
            while True:
                size = int((await self.reader.readline()).split(b";")[0], 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        elif length:
            await self.reader.readexactly(length)
        if close:
            self.close()
        return status

    def close(self):
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def _percentile(ordered, fraction):
    if not ordered:
        return None
    index = min(len(ordered) - 1, int(fraction * len(ordered)))
    return ordered[index]


async def _run(host, port, keys, rate, seconds, connections, seed):
    loop = asyncio.get_running_loop()
    rng = random.Random(seed)
    pool = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(_Connection(host, port))
    bodies = [
        json.dumps({"crypto": crypto, "amount": amount}).encode()
        for crypto, amount in MIX
    ]
    latencies, statuses = [], Counter()
    total = int(rate * seconds)
    start = loop.time() + 0.2

    def raw_request():
        body = rng.choice(bodies)
        head = (
            f"POST /api/order/ HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Token {rng.choice(keys)}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    async def one(index, raw):
        due = start + index / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        connection = await pool.get()
        try:
            status = await connection.request(raw)
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
            connection.close()
            status = "error"
        finally:
            pool.put_nowait(connection)
        statuses[status] += 1
        latencies.append(loop.time() - due)

    tasks = [
        asyncio.create_task(one(index, raw_request()))
        for index in range(total)
    ]
    await asyncio.gather(*tasks)
    elapsed = loop.time() - start
    while not pool.empty():
        pool.get_nowait().close()
    ordered = sorted(latencies)
    ms = {
        name: round(1000 * _percentile(ordered, fraction), 2)
        for name, fraction in (
            ("p50", 0.50),
            ("p90", 0.90),
            ("p99", 0.99),
            ("p999", 0.999),
        )
    }
    ms["max"] = round(1000 * ordered[-1], 2)
    return {
        "offered_rps": round(rate, 1),
        "achieved_rps": round(total / elapsed, 1),
        "requests": total,
        "ok": statuses.get(201, 0),
        "errors": total - statuses.get(201, 0),
        "statuses": {str(k): v for k, v in statuses.items()},
        "latency_ms": ms,
        "connections": connections,
    }


def steady_run(
    *, host, port, keys, rate, seconds, connections=64, seed=0
) -> dict:
    """Offer ``rate`` orders per second for ``seconds``, open loop;
    the latency percentiles counted from when each request was due."""
    return asyncio.run(
        _run(host, port, keys, rate, seconds, connections, seed)
    )
