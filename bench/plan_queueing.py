"""The planner's per-minute latency model against a discrete-event simulation, and its speed.

Run: ``.venv/bin/python bench/plan_queueing.py [--scale 1.0] [--seed 1]``

1. For c in {1, 2, 4, 8} replicas at utilisation {0.3, 0.6, 0.85} and three
   service shapes fitted to a p50 of 10 ms (exponential: p99/p50 = 6.64; a
   real model's near-constant latency: p99/p50 = 1.3; a heavy tail:
   p99/p50 = 10, a hyperexponential), the p99 response time from
   ``latency_ms_percentile`` against the p99 of ``simulate_queue`` (Poisson
   arrivals, FCFS, warm-up dropped), and the relative error. Busier cases
   simulate more requests (``--scale`` multiplies them all), since the p99
   of a busy queue is noisy: at rho = 0.85 the simulated p99 itself moves by
   a few percent from seed to seed.
2. The model's known weak spot, near-constant service with 2 to 4 replicas
   at light load, on a finer utilisation grid.
3. The time to evaluate 43,200 minutes (a month), best of 7: percentile and
   share over an SLO, with 1 to 8 replicas and with up to 300.

Benchmarks report; this one exits 0 whatever the errors are.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable

import numpy as np

from mlcost.plan._queueing import (
    ServiceTime,
    latency_ms_percentile,
    share_over_slo,
    simulate_queue,
)

SHAPES = {
    "exponential": ServiceTime.from_percentiles(10.0, 10.0 * math.log(100.0) / math.log(2.0)),
    "near-constant": ServiceTime.from_percentiles(10.0, 13.0),
    "heavy-tail": ServiceTime.from_percentiles(10.0, 100.0),
}
REQUESTS = {0.15: 100_000, 0.2: 100_000, 0.3: 200_000, 0.45: 300_000, 0.6: 400_000, 0.85: 2_000_000}
MINUTES = 43_200


def compare(service: ServiceTime, servers: int, rho: float, requests: int, seed: int) -> str:
    """One table row: model p99, simulated p99, relative error."""
    rate = rho * servers / service.mean_s
    started = time.perf_counter()
    simulated = simulate_queue(rate, servers, service, duration_s=requests / rate, seed=seed)
    simulate_s = time.perf_counter() - started
    simulated_ms = float(np.percentile(simulated, 99))
    model_ms = float(latency_ms_percentile(rate, servers, service, 99.0))
    error = (model_ms - simulated_ms) / simulated_ms
    return (
        f"{servers:>3} {rho:>5.2f} {model_ms:>10.2f} {simulated_ms:>10.2f} {error:>+8.1%}"
        f" {simulated.size:>10,} {simulate_s:>6.1f}"
    )


def best_ms(run: Callable[..., object], *args: object, repeats: int = 7) -> float:
    """Fastest of ``repeats`` calls of ``run(*args)``, ms."""
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        run(*args)
        best = min(best, time.perf_counter() - started)
    return best * 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply simulated requests")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    header = (
        f"{'c':>3} {'rho':>5} {'model p99':>10} {'DES p99':>10} {'error':>8}"
        f" {'requests':>10} {'sim s':>6}"
    )

    print("1. p99 response time (ms): model vs discrete-event simulation")
    for name, service in SHAPES.items():
        print(f"\n{name}: mean {service.mean_s * 1000:.2f} ms, cs2 {service.scv:.3f}")
        print(header)
        for servers in (1, 2, 4, 8):
            for rho in (0.3, 0.6, 0.85):
                requests = int(REQUESTS[rho] * args.scale)
                print(compare(service, servers, rho, requests, args.seed), flush=True)

    print("\n2. near-constant service, light load (the model's weakest region)")
    print(header)
    for servers in (2, 3, 4):
        for rho in (0.15, 0.2, 0.3, 0.45):
            requests = int(REQUESTS[rho] * args.scale)
            print(compare(SHAPES["near-constant"], servers, rho, requests, args.seed), flush=True)

    print(f"\n3. time to evaluate {MINUTES:,} minutes (best of 7)")
    rng = np.random.default_rng(args.seed)
    service = SHAPES["near-constant"]
    for label, most in (("1-8 replicas", 8), ("1-300 replicas", 300)):
        counts = rng.integers(1, most + 1, MINUTES)
        arrivals = rng.uniform(0.1, 0.95, MINUTES) * counts / service.mean_s
        percentile_ms = best_ms(latency_ms_percentile, arrivals, counts, service, 99.0)
        share_ms = best_ms(share_over_slo, arrivals, counts, service, 20.0)
        print(
            f"{label}: latency_ms_percentile {percentile_ms:.1f} ms, "
            f"share_over_slo {share_ms:.1f} ms"
        )


if __name__ == "__main__":
    main()
