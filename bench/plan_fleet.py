"""Time per ``simulate_fleet`` call on a month of consumer-shaped traffic.

Run: ``.venv/bin/python bench/plan_fleet.py [--repeat 200]``

The planner simulates one fleet per candidate (1,000 to 3,000 of them) and
must finish the whole search in under 10 s on two cores, so a call should
take about a millisecond: the target is under 2 ms. Traffic: 1,000,000
requests a day, the built-in "consumer" daily shape, 30 days (43,200
minutes), 50 ms mean service time. Cases: a fixed on-demand fleet, the HPA
on on-demand nodes, and the HPA on spot nodes with reclaims (the ">20%"
bucket, 10 % fallback, one overprovisioned node). Best of ``--repeat``
calls, and the median.

Benchmarks report; this one exits 0 whatever the times are.
"""

from __future__ import annotations

import argparse
import statistics
import time

from mlcost.core import Traffic
from mlcost.plan._fleet import (
    ON_DEMAND_ONLY,
    ScalingPolicy,
    SpotPolicy,
    simulate_fleet,
)
from mlcost.plan._traffic import arrivals_per_minute
from mlcost.train import interruptions_per_hour

MEAN_SERVICE_S = 0.3
PODS_PER_NODE = 3
CASES = {
    "fixed, on-demand": (ScalingPolicy(False, 8, 8), ON_DEMAND_ONLY),
    "HPA, on-demand": (ScalingPolicy(True, 1, 50), ON_DEMAND_ONLY),
    "HPA, spot >20% + fallback": (
        ScalingPolicy(True, 1, 50),
        SpotPolicy(
            on_demand_base_nodes=1,
            spot_share=1.0,
            interruptions_per_node_hour=interruptions_per_hour(">20%"),
            overprovision_nodes=1,
            fallback_share=0.1,
        ),
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    traffic = Traffic(requests_per_day=1_000_000, daily_shape="consumer")
    arrivals_per_s = arrivals_per_minute(traffic, horizon_days=30) / 60.0
    print(f"{arrivals_per_s.size} minutes, peak {arrivals_per_s.max():.1f} requests/s")
    for name, (scaling, spot) in CASES.items():
        times_ms = []
        for seed in range(args.repeat):
            start = time.perf_counter()
            run = simulate_fleet(
                arrivals_per_s,
                mean_service_s=MEAN_SERVICE_S,
                pods_per_node=PODS_PER_NODE,
                scaling=scaling,
                spot=spot,
                seed=seed,
            )
            times_ms.append((time.perf_counter() - start) * 1000.0)
        print(
            f"{name:28s} best {min(times_ms):6.3f} ms  median {statistics.median(times_ms):6.3f} ms"
            f"  (peak {run.peak_nodes} nodes, {run.interruptions} reclaims)"
        )


if __name__ == "__main__":
    main()
