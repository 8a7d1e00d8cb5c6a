"""The plan's latency against a real server's, at 20, 50 and 80 % of one replica's capacity.

Run: ``.venv/bin/python bench/serve_vs_plan.py [--home .mlcost-demo] [--variant NAME]``

The planner models a replica of the variant from its profile (batch-1 p50
and p99, rows per second at batch 1, 4 and 16) and the workload's serving
section (the defaults: batches of up to 16, 5 ms queue delay):
``mlcost.plan.measured_service``, the same model every plan's candidates are
screened and checked with. The profile is measured in this run, just before
and just after the server's (``mlcost.profile.measure``, its own process, on
the same tweets), and the model uses the mean of the two: this host's speed
drifts by tens of percent within minutes, and a profile from another hour
would judge the drift, not the model. Its capacity is the most one
replica can take (full batches). At 20 %, 50 % and 80 % of it, an open-loop
Poisson client in its own process (bench/serving/loadgen.py: arrivals never
wait for answers, latency from each request's scheduled time) sends one real
tweet per request to a real `mlcost serve` of that variant on loopback with
the same batching, for ``DURATION_S`` seconds per rate; the measured p50 and
p99 print beside the plan's. Target: the plan's p99 within 20 % of the
measured p99 at every rate where the SLO (p99 <= 100 ms) holds.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent / "serving"))
from server import cpu_label, load, running, tweet_bodies

ROOT = Path(__file__).resolve().parents[1]
SLO_P99_MS = 100.0
FRACTIONS = (0.2, 0.5, 0.8)
DURATION_S = 25.0
TARGET_GAP = 0.20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=ROOT / ".mlcost-demo")
    parser.add_argument("--variant", default="int8-dynamic")
    parser.add_argument("--duration", type=float, default=DURATION_S)
    args = parser.parse_args()
    from mlcost.core import ServingSettings, Store, Workspace
    from mlcost.plan import BatchService, latency_ms_percentile, measured_service
    from mlcost.runtime import threads_allowed

    with Store.open(Workspace.resolve(args.home).db_url) as store:
        variant = next((v for v in store.variants() if v.name == args.variant), None)
    if variant is None:
        print(f"no variant {args.variant} in {args.home}: run `make demo` first")
        return
    bodies = tweet_bodies()
    texts = [str(body["text"]) for body in bodies]
    print(f"serving {args.variant} on {cpu_label()}; one tweet per request")
    before = _profile(variant, texts, "before")
    serving = ServingSettings()
    model = measured_service(*before, serving, vcpus=threads_allowed())
    capacity = model.capacity_per_s if isinstance(model, BatchService) else 1.0 / model.mean_s
    print(
        f"plan's replica: batches of up to {serving.max_batch_size}, "
        f"{serving.max_queue_delay_ms:g} ms queue delay; capacity {capacity:.0f}/s"
    )
    batching = {
        "max_batch_size": serving.max_batch_size,
        "max_queue_delay_ms": serving.max_queue_delay_ms,
    }
    config = {"tiers": [{"name": "main", "variant": args.variant, "batching": batching}]}
    measured: list[tuple[float, dict[str, object]]] = []
    with running(args.home, config) as (_, url):
        load(url, 20, 3, bodies, warmup_s=0)  # warm the connection pool and the model
        for fraction in FRACTIONS:
            got = load(url, fraction * capacity, args.duration, bodies, seed=int(fraction * 100))
            measured.append((fraction, got))
    after = _profile(variant, texts, "after")
    mean_figures = (
        (before[0] + after[0]) / 2,
        (before[1] + after[1]) / 2,
        {b: (before[2][b] + after[2][b]) / 2 for b in before[2]},
    )
    model = measured_service(*mean_figures, serving, vcpus=threads_allowed())
    print("the plan's model uses the mean of the two profiles")
    rows: list[dict[str, object]] = []
    for fraction, got in measured:
        rate = fraction * capacity
        plan_p50, plan_p99 = (float(latency_ms_percentile(rate, 1, model, q)) for q in (50.0, 99.0))
        measured_p99 = float(got["p99_ms"] or "inf")  # type: ignore[arg-type]
        ok = got["statuses"] == {"200": got["sent"]} and not got["errors"]
        rows.append(
            {
                "fraction": fraction,
                "rate_per_s": rate,
                "achieved_per_s": got["achieved_per_s"],
                "measured_p50_ms": got["p50_ms"],
                "measured_p99_ms": measured_p99,
                "plan_p50_ms": plan_p50,
                "plan_p99_ms": plan_p99,
                "gap": plan_p99 / measured_p99 - 1.0,
                "slo_holds": ok and measured_p99 <= SLO_P99_MS,
                "statuses": got["statuses"],
            }
        )
    print(
        f"\n{'load':>5} {'rate/s':>7} {'measured p50':>13} {'p99':>8} {'plan p50':>9} "
        f"{'p99':>8} {'p99 gap':>8}  SLO"
    )
    for row in rows:
        print(
            f"{row['fraction']:>5.0%} {row['rate_per_s']:>7.1f} {row['measured_p50_ms']:>10.1f} ms "
            f"{row['measured_p99_ms']:>5.1f} ms {row['plan_p50_ms']:>6.1f} ms {row['plan_p99_ms']:>5.1f} ms "
            f"{row['gap']:>+7.0%}  {'holds' if row['slo_holds'] else 'missed'} {row['statuses']}"
        )
    judged = [r for r in rows if r["slo_holds"]]
    worst = max((abs(float(r["gap"])) for r in judged), default=float("nan"))  # type: ignore[arg-type]
    verdict = "met" if judged and worst <= TARGET_GAP else "MISSED"
    print(
        f"\nplan p99 vs measured, at the {len(judged)} rates where p99 <= {SLO_P99_MS:g} ms holds: "
        f"worst gap {worst:.0%} (target within {TARGET_GAP:.0%}: {verdict})"
    )
    print(json.dumps({"variant": args.variant, "capacity_per_s": capacity, "rows": rows}))


def _profile(variant: Any, texts: list[str], when: str) -> tuple[float, float, dict[int, float]]:
    """Batch-1 p50 and p99, ms, and rows/s by batch size: ``mlcost.profile.measure`` on ``texts``."""
    import numpy as np

    from mlcost.profile import MeasureSettings, measure
    from mlcost.runtime import load_tokenizer, threads_allowed, tokenize

    tokenizer = load_tokenizer(variant)
    ids = tokenize(tokenizer, texts)
    got = measure(
        variant, ids, int(tokenizer.pad_token_id or 0), MeasureSettings(threads=threads_allowed())
    )
    p50, p99 = (float(np.percentile(got.latencies_ms, q)) for q in (50, 99))
    print(
        f"profile {when}: batch-1 p50 {p50:.2f} ms, p99 {p99:.2f} ms; rows/s by batch "
        + ", ".join(f"{b}: {r:.0f}" for b, r in sorted(got.throughput_by_batch.items()))
    )
    return p50, p99, dict(got.throughput_by_batch)


if __name__ == "__main__":
    main()
