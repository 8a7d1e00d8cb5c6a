"""The full plan search: every shipped offer x the demo's variants x pricing x scaling x platform.

Run: ``.venv/bin/python bench/plan_search.py [--home .mlcost-demo] [--repeat 3]``

Reads the variants and profiles that ``make demo`` measured (in ``--home``), lifts the
reference workload's region and provider limits so every offer of the shipped catalog is
a candidate, and times ``plan_serving`` end to end (traffic, estimates, the per-minute
fleet simulations over 30 days, each priced on managed Kubernetes and on a VM group,
the serverless functions, screening, exact checks, the spot months over seeds,
sensitivity, waterfall). Target: under 10 s. Prints the candidates per second. Exits 0 whatever the figures are (benchmarks report).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from mlcost.catalog import load_shipped
from mlcost.core import Constraints, Store, Workspace
from mlcost.plan import load_workload, plan_serving

ROOT = Path(__file__).resolve().parents[1]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--home", type=Path, default=ROOT / ".mlcost-demo")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    workspace = Workspace.resolve(args.home)
    if not (workspace.home / "mlcost.db").is_file():
        print(f"no demo workspace at {workspace.home}; run `make demo` first")
        return 0
    with Store.open(workspace.db_url) as store:
        variants, profiles = store.variants(), store.profiles()
    reference = load_workload(ROOT / "examples" / "workload.yaml")
    everywhere = reference.model_copy(
        update={"constraints": Constraints(min_replicas=2, max_spot_share=1.0)}
    )
    catalog = load_shipped()
    print(
        f"{len(catalog.offers)} offers x {len(variants)} variants; "
        f"{everywhere.horizon_days} days = {everywhere.horizon_days * 1440:,} minutes per candidate"
    )
    for label, workload in (("every offer", everywhere), ("reference workload", reference)):
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            plan = plan_serving(workload, variants=variants, profiles=profiles, catalog=catalog)
            times.append(time.perf_counter() - started)
        best = min(times)
        rate = plan.candidates_simulated / best
        verdict = "met" if best < 10.0 else "MISSED"
        print(
            f"{label}: {plan.candidates_simulated:,} candidates in {best:.2f} s (best of "
            f"{args.repeat}; search alone {plan.search_s:.2f} s) = {rate:,.0f} candidates/s; "
            f"target < 10 s: {verdict}; winner {plan.winner.label} "
            f"${plan.winner.monthly_usd:,.2f}/month"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
