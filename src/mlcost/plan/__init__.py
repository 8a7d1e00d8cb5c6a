"""Plan: the cheapest hardware, pricing and scaling that meets the SLO, simulated over a month.

Input: a Workload (traffic, SLO, accuracy floor, current setup), Profiles, catalog Offers.
Output: a Plan (winner, cost breakdown, SLO result, waterfall, runners-up), or a training-job plan.
"""

from __future__ import annotations

from mlcost.plan._queueing import (
    ServiceTime,
    SloViolations,
    erlang_c,
    latency_ms_percentile,
    share_over_slo,
    simulate_queue,
    utilisation,
    violations,
)
from mlcost.plan._traffic import (
    BUILTIN_HOURLY_WEIGHTS,
    arrivals_per_minute,
    minute_shape,
    peak_to_mean,
    read_trace,
)
from mlcost.plan._training import (
    TrainingJob,
    TrainingOption,
    TrainingPricing,
    TrainingSettings,
    TrainingSimulation,
    plan_training,
    simulate_training,
)
from mlcost.plan._workload import load_workload

__all__ = [
    "BUILTIN_HOURLY_WEIGHTS",
    "ServiceTime",
    "SloViolations",
    "TrainingJob",
    "TrainingOption",
    "TrainingPricing",
    "TrainingSettings",
    "TrainingSimulation",
    "arrivals_per_minute",
    "erlang_c",
    "latency_ms_percentile",
    "load_workload",
    "minute_shape",
    "peak_to_mean",
    "plan_training",
    "read_trace",
    "share_over_slo",
    "simulate_queue",
    "simulate_training",
    "utilisation",
    "violations",
]
