"""A 10-minute soak at 80 % of capacity: the server's memory must stop growing (`make bench`).

Run: ``.venv/bin/python bench/serve_soak.py [--home .mlcost-demo] [--variant NAME]
[--minutes 10] [--rate R]``

A real `mlcost serve` (dynamic batching, the defaults) on loopback gets
open-loop Poisson traffic from bench/serving/loadgen.py (its own process), one
real tweet per request, in one-minute runs back to back. The rate is 80 % of
the highest rate `bench/serve_batching.py` sustains (found here again in a
short search when ``--rate`` is not given). After each minute the server's
resident memory (VmRSS) is read from /proc. Bound: after the first minute
(model, arenas and caches warm), RSS grows by at most 32 MiB over the rest of
the soak, and every request is answered 200.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "serving"))
from server import load, running, tweet_bodies

ROOT = Path(__file__).resolve().parents[1]
BOUND_MIB = 32.0


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=ROOT / ".mlcost-demo")
    parser.add_argument("--variant", default="int8-dynamic")
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--rate", type=float, default=None)
    args = parser.parse_args()
    from serve_batching import _sustained

    bodies = tweet_bodies()
    rate = args.rate
    if rate is None:
        print("finding the sustained rate (dynamic batching, p99 <= 100 ms):")
        best, _ = _sustained(
            args.home, args.variant, {"max_batch_size": 16, "max_queue_delay_ms": 5}, 50.0, bodies
        )
        rate = 0.8 * best
    config = {"tiers": [{"name": "main", "variant": args.variant}]}
    print(f"soak: {args.variant} at {rate:.0f} requests/s for {args.minutes} min")
    rss: list[float] = []
    failed = 0
    sent = 0
    with running(args.home, config) as (process, url):
        for minute in range(args.minutes):
            result = load(url, rate, 60.0, bodies, seed=minute, warmup_s=0)
            sent += int(result["sent"])  # type: ignore[call-overload]
            failed += int(result["sent"]) - int(result["statuses"].get("200", 0))  # type: ignore[call-overload, union-attr]
            rss.append(_rss_mib(process.pid))
            print(
                f"  minute {minute + 1}: {result['sent']} sent, p99 {result['p99_ms']:.1f} ms, RSS {rss[-1]:.1f} MiB"
            )
    growth = max(rss[1:], default=rss[0]) - rss[0]
    verdict = "met" if growth <= BOUND_MIB and failed == 0 else "MISSED"
    print(
        f"\nRSS after minute 1: {rss[0]:.1f} MiB; highest later: {max(rss):.1f} MiB; growth {growth:+.1f} MiB (bound {BOUND_MIB:g} MiB); {sent - failed} of {sent} answered 200: {verdict}"
    )


if __name__ == "__main__":
    main()
