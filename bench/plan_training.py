"""Training-job planner: Daly's expected spot runtime against a Monte Carlo of the same process.

Run: ``.venv/bin/python bench/plan_training.py [--runs 20000] [--seed 0]``

Over the grid nodes 1/4/16 x spot buckets <5%, 5-10%, >20% (rates from
interruptions_per_hour) x checkpoint write 10/60/300 s x work 2/24/200 h, with a
120 s restore and a 300 s replacement delay, it prints the analytical expected
wall time of the spot option (Young/Daly interval), the Monte Carlo mean and its
standard error, the relative error, and the Monte Carlo speed in runs per second.
Benchmarks report; this one exits 0 whatever the errors are.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Sequence

from mlcost.plan._training import TrainingJob, plan_training, simulate_training
from mlcost.train import interruptions_per_hour

NODES = (1, 4, 16)
BUCKETS = ("<5%", "5-10%", ">20%")
WRITES_S = (10.0, 60.0, 300.0)
WORK_HOURS = (2.0, 24.0, 200.0)
RESTORE_S = 120.0
REPLACEMENT_DELAY_S = 300.0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=20_000, help="Monte Carlo runs per grid point")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(
        f"spot option, expected wall hours: Daly (2006) formula vs Monte Carlo "
        f"({args.runs:,} runs per point, seed {args.seed}); restore {RESTORE_S:.0f} s, "
        f"replacement delay {REPLACEMENT_DELAY_S:.0f} s"
    )
    header = f"{'nodes':>5} {'bucket':>6} {'write s':>7} {'work h':>6} {'interval s':>10} {'interrupts':>10} {'formula h':>10} {'MC h':>10} {'MC stderr':>9} {'rel err':>8} {'z':>6}"
    print(header)
    worst = (0.0, "")
    total_runs, total_s = 0, 0.0
    for nodes, bucket, write_s, work_h in itertools.product(NODES, BUCKETS, WRITES_S, WORK_HOURS):
        job = TrainingJob(
            work_hours=work_h,
            nodes=nodes,
            checkpoint_write_s=write_s,
            restore_s=RESTORE_S,
            replacement_delay_s=REPLACEMENT_DELAY_S,
        )
        spot = plan_training(
            job,
            on_demand_usd_per_node_hour=1.0,
            spot_usd_per_node_hour=0.3,
            interruptions_per_node_hour=interruptions_per_hour(bucket),
        )[1]
        started = time.perf_counter()
        sim = simulate_training(job, spot, runs=args.runs, seed=args.seed)
        total_s += time.perf_counter() - started
        total_runs += args.runs
        error = sim.wall_hours_mean / spot.expected_wall_hours - 1
        z = (sim.wall_hours_mean - spot.expected_wall_hours) / sim.wall_hours_stderr if sim.wall_hours_stderr else 0.0  # fmt: skip
        where = f"nodes {nodes}, {bucket}, write {write_s:.0f} s, work {work_h:.0f} h"
        if abs(error) >= abs(worst[0]):
            worst = (error, where)
        print(
            f"{nodes:>5} {bucket:>6} {write_s:>7.0f} {work_h:>6.0f} {spot.checkpoint_interval_s:>10,.0f} "
            f"{spot.expected_interruptions:>10.4f} {spot.expected_wall_hours:>10.4f} "
            f"{sim.wall_hours_mean:>10.4f} {sim.wall_hours_stderr:>9.4f} {error:>8.4%} {z:>6.2f}"
        )
    print(f"worst relative error: {worst[0]:+.4%} ({worst[1]})")
    print(
        f"Monte Carlo speed: {total_runs / total_s:,.0f} runs/s "
        f"({total_runs:,} runs in {total_s:.1f} s, one process)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
