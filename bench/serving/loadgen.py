"""An open-loop HTTP load generator: Poisson arrivals that never wait for answers.

Run as its own process (so its CPU is not the server's event loop):

    python bench/serving/loadgen.py --url http://127.0.0.1:8000/v1/predict --rate 50 \
        --duration 20 --texts texts.json [--seed 0] [--warmup 2]

Arrival times are drawn up front (exponential gaps at ``--rate`` per second).
Each arrival is sent at its time on a free keep-alive connection, or a new one
when all are busy, and its latency is measured from its *scheduled* time: a
server that falls behind is charged for the wait it causes (no coordinated
omission). Bodies cycle through ``--texts`` (a JSON list of request bodies).
Prints one JSON object: sent, answered by status, errors, p50/p90/p99/max
latency in ms over the requests after ``--warmup`` seconds, achieved rate.
The client is plain asyncio streams (HTTP/1.1, Content-Length), not an HTTP
library: at hundreds of requests per second on 2 cores its own overhead must
stay small beside the server's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

# A connection idle longer than this is closed, not reused: the server closes idle keep-alive
# connections (uvicorn after 5 s), and a request sent as it does would be lost in the race.
_MAX_IDLE_S = 2.0
Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@dataclass
class _Pool:
    host: str
    port: int
    idle: list[tuple[float, Connection]] = field(default_factory=list)
    opened: int = 0

    async def take(self) -> Connection:
        now = time.monotonic()
        while self.idle:
            since, connection = self.idle.pop()
            if now - since < _MAX_IDLE_S:
                return connection
            connection[1].close()
        self.opened += 1
        return await asyncio.open_connection(self.host, self.port)

    def give(self, connection: Connection) -> None:
        self.idle.append((time.monotonic(), connection))


async def _request(pool: _Pool, head: bytes, body: bytes) -> int:
    """One POST; returns the status. Reads the whole answer (Content-Length)."""
    reader, writer = await pool.take()
    try:
        writer.write(head + body)
        status_line = await reader.readline()
        if not status_line:
            raise ConnectionError("connection closed")
        status = int(status_line.split()[1])
        length, close = 0, False
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        await reader.readexactly(length)
    except BaseException:
        writer.close()
        raise
    if close:
        writer.close()
    else:
        pool.give((reader, writer))
    return status


async def run(
    url: str, rate: float, duration_s: float, bodies: list[bytes], seed: int, warmup_s: float
) -> dict[str, object]:
    parts = urlsplit(url)
    pool = _Pool(parts.hostname or "127.0.0.1", parts.port or 80)
    rng = random.Random(seed)
    arrivals: list[float] = []
    t = 0.0
    while True:
        t += rng.expovariate(rate)
        if t >= duration_s:
            break
        arrivals.append(t)
    heads = [
        (
            f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(b)}\r\n\r\n"
        ).encode()
        for b in bodies
    ]
    latencies: list[tuple[float, float]] = []
    statuses: dict[str, int] = {}
    errors: dict[str, int] = {}
    start = time.perf_counter() + 0.05

    async def one(index: int, at: float) -> None:
        delay = start + at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        k = index % len(bodies)
        try:
            status = await _request(pool, heads[k], bodies[k])
        except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError) as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            return
        done = time.perf_counter()
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        if status == 200:
            latencies.append((at, (done - (start + at)) * 1000.0))

    await asyncio.gather(*(one(i, at) for i, at in enumerate(arrivals)))
    elapsed = time.perf_counter() - start
    kept = sorted(ms for at, ms in latencies if at >= warmup_s)

    def pct(q: float) -> float | None:
        if not kept:
            return None
        return kept[min(len(kept) - 1, int(q * len(kept)))]

    for _, (_, writer) in pool.idle:
        writer.close()
    return {
        "rate_per_s": rate,
        "duration_s": duration_s,
        "sent": len(arrivals),
        "statuses": statuses,
        "errors": errors,
        "connections_opened": pool.opened,
        "measured": len(kept),
        "p50_ms": pct(0.50),
        "p90_ms": pct(0.90),
        "p99_ms": pct(0.99),
        "max_ms": kept[-1] if kept else None,
        "achieved_per_s": sum(statuses.values()) / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--texts", type=Path, required=True, help="a JSON list of request bodies")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--warmup", type=float, default=2.0)
    args = parser.parse_args()
    bodies = [json.dumps(b).encode() for b in json.loads(args.texts.read_text(encoding="utf-8"))]
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(run(args.url, args.rate, args.duration, bodies, args.seed, args.warmup))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
