"""The planner's per-minute latency model against a discrete-event simulation, and its speed.

Run: ``.venv/bin/python bench/plan_queueing.py [--scale 1.0] [--seed 1]``

1. For c in {1, 2, 4, 8} replicas at utilisation {0.3, 0.6, 0.85} and three
   service shapes fitted to a p50 of 10 ms (exponential: p99/p50 = 6.64; a
   real model's near-constant latency: p99/p50 = 1.3; a heavy tail:
   p99/p50 = 10, a hyperexponential), the p99 response time from
   ``latency_ms_percentile`` against the p99 of ``simulate_queue`` (Poisson
   arrivals, FCFS, warm-up dropped), and the relative error, for the shared
   queue ("least-outstanding" balancing). Busier cases simulate more
   requests (``--scale`` multiplies them all), since the p99 of a busy
   queue is noisy: at rho = 0.85 the simulated p99 itself moves by a few
   percent from seed to seed.
2. The same grid with a queue per replica: "random" balancing (an M/G/1
   queue per replica) and "round-robin" (an E_c/G/1 queue per replica).
3. How much a queue per replica costs: the p99 of each balancing over the
   shared queue's at rho = 0.6, model and simulation, for c = 2, 4, 8, 10.
4. Round-robin past the 64 replicas the model tabulates (it reads the
   64-replica table there): c = 64, 128, 256 against the simulation.
5. The shared model's known weak spot, near-constant service with 2 to 4
   replicas at light load, on a finer utilisation grid.
6. The time to evaluate 43,200 minutes (a month), best of 7: percentile and
   share over an SLO, with 1 to 8 replicas and with up to 300, per
   balancing (round-robin's first call, which solves its tables, apart).

Benchmarks report; this one exits 0 whatever the errors are.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from typing import get_args

import numpy as np

from mlcost.plan._queue_simulation import simulate_queue
from mlcost.plan._queueing import Balancing, latency_ms_percentile, share_over_slo
from mlcost.plan._service_time import ServiceTime

SHAPES = {
    "exponential": ServiceTime.from_percentiles(10.0, 10.0 * math.log(100.0) / math.log(2.0)),
    "near-constant": ServiceTime.from_percentiles(10.0, 13.0),
    "heavy-tail": ServiceTime.from_percentiles(10.0, 100.0),
}
REQUESTS = {
    0.15: 100_000,
    0.2: 100_000,
    0.3: 200_000,
    0.45: 300_000,
    0.6: 400_000,
    0.85: 2_000_000,
    0.95: 4_000_000,
}
MINUTES = 43_200
PER_REPLICA: tuple[Balancing, ...] = ("random", "round-robin")
HEADER = (
    f"{'c':>3} {'rho':>5} {'model p99':>10} {'DES p99':>10} {'error':>8}"
    f" {'requests':>10} {'sim s':>6}"
)


def simulated_p99_ms(
    service: ServiceTime, servers: int, rho: float, requests: int, seed: int, balancing: Balancing
) -> tuple[float, int, float]:
    """The simulated p99 (ms), the requests it kept and the seconds the simulation took."""
    rate = rho * servers / service.mean_s
    started = time.perf_counter()
    simulated = simulate_queue(
        rate, servers, service, duration_s=requests / rate, seed=seed, balancing=balancing
    )
    return float(np.percentile(simulated, 99)), simulated.size, time.perf_counter() - started


def model_p99_ms(service: ServiceTime, servers: int, rho: float, balancing: Balancing) -> float:
    """The model's p99 response time, ms."""
    rate = rho * servers / service.mean_s
    return float(latency_ms_percentile(rate, servers, service, 99.0, balancing=balancing))


def compare(
    service: ServiceTime,
    servers: int,
    rho: float,
    requests: int,
    seed: int,
    balancing: Balancing = "least-outstanding",
) -> str:
    """One table row: model p99, simulated p99, relative error."""
    simulated_ms, kept, simulate_s = simulated_p99_ms(
        service, servers, rho, requests, seed, balancing
    )
    model_ms = model_p99_ms(service, servers, rho, balancing)
    error = (model_ms - simulated_ms) / simulated_ms
    return (
        f"{servers:>3} {rho:>5.2f} {model_ms:>10.2f} {simulated_ms:>10.2f} {error:>+8.1%}"
        f" {kept:>10,} {simulate_s:>6.1f}"
    )


def best_ms(run: Callable[..., object], *args: object, repeats: int = 7, **kwargs: object) -> float:
    """Fastest of ``repeats`` calls of ``run(*args, **kwargs)``, ms."""
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        run(*args, **kwargs)
        best = min(best, time.perf_counter() - started)
    return best * 1000.0


def print_grid(balancing: Balancing, scale: float, seed: int) -> None:
    """Model against simulation for each shape, c in {1, 2, 4, 8}, rho in {0.3, 0.6, 0.85}."""
    for name, service in SHAPES.items():
        print(f"\n{balancing}, {name}: mean {service.mean_s * 1000:.2f} ms, cs2 {service.scv:.3f}")
        print(HEADER)
        for servers in (1, 2, 4, 8):
            for rho in (0.3, 0.6, 0.85):
                requests = int(REQUESTS[rho] * scale)
                print(compare(service, servers, rho, requests, seed, balancing), flush=True)


def print_ratios(scale: float, seed: int) -> None:
    """Section 3: per-replica p99 over the shared queue's at rho = 0.6."""
    rho = 0.6
    print(f"\n3. p99 with a queue per replica over the shared queue's, rho = {rho}")
    print(f"{'shape':>14} {'c':>3} {'random':>15} {'round-robin':>15}   (model / simulation)")
    for name, service in SHAPES.items():
        for servers in (2, 4, 8, 10):
            requests = int(REQUESTS[rho] * scale)
            shared_model = model_p99_ms(service, servers, rho, "least-outstanding")
            shared_sim, _, _ = simulated_p99_ms(
                service, servers, rho, requests, seed, "least-outstanding"
            )
            cells = []
            for balancing in PER_REPLICA:
                model = model_p99_ms(service, servers, rho, balancing) / shared_model
                sim = simulated_p99_ms(service, servers, rho, requests, seed, balancing)[0]
                cells.append(f"{model:>6.2f} / {sim / shared_sim:<6.2f}")
            print(f"{name:>14} {servers:>3} {cells[0]:>15} {cells[1]:>15}", flush=True)


def print_beyond_table(scale: float, seed: int) -> None:
    """Section 4: round-robin with more replicas than the model tabulates."""
    print("\n4. round-robin past 64 replicas (the model reads the 64-replica table)")
    for name in ("exponential", "near-constant"):
        print(f"\n{name}")
        print(HEADER)
        for servers in (64, 128, 256):
            for rho in (0.6, 0.85, 0.95):
                requests = int(REQUESTS[rho] * scale)
                row = compare(SHAPES[name], servers, rho, requests, seed, "round-robin")
                print(row, flush=True)


def print_timings(seed: int) -> None:
    """Section 6: a month of minutes per balancing."""
    print(f"\n6. time to evaluate {MINUTES:,} minutes (best of 7)")
    rng = np.random.default_rng(seed)
    service = SHAPES["near-constant"]
    for label, most in (("1-8 replicas", 8), ("1-300 replicas", 300)):
        counts = rng.integers(1, most + 1, MINUTES)
        arrivals = rng.uniform(0.1, 0.95, MINUTES) * counts / service.mean_s
        for balancing in get_args(Balancing):
            started = time.perf_counter()
            latency_ms_percentile(arrivals, counts, service, 99.0, balancing=balancing)
            first_ms = (time.perf_counter() - started) * 1000.0
            percentile_ms = best_ms(
                latency_ms_percentile, arrivals, counts, service, 99.0, balancing=balancing
            )
            share_ms = best_ms(share_over_slo, arrivals, counts, service, 20.0, balancing=balancing)
            print(
                f"{label}, {balancing}: latency_ms_percentile {percentile_ms:.1f} ms "
                f"(first call {first_ms:.1f} ms), share_over_slo {share_ms:.1f} ms"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply simulated requests")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    print("1. p99 response time (ms): model vs discrete-event simulation, one shared queue")
    print_grid("least-outstanding", args.scale, args.seed)
    print("\n2. the same with a queue per replica")
    for balancing in PER_REPLICA:
        print_grid(balancing, args.scale, args.seed)
    print_ratios(args.scale, args.seed)
    print_beyond_table(args.scale, args.seed)

    print("\n5. near-constant service, light load (the shared model's weakest region)")
    print(HEADER)
    for servers in (2, 3, 4):
        for rho in (0.15, 0.2, 0.3, 0.45):
            requests = int(REQUESTS[rho] * args.scale)
            print(compare(SHAPES["near-constant"], servers, rho, requests, args.seed), flush=True)

    print_timings(args.seed)


if __name__ == "__main__":
    main()
