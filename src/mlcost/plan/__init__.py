"""Plan: the cheapest hardware, pricing and scaling that meets the SLO, simulated over a month.

Input: a Workload (traffic, SLO, accuracy floor, current setup), Profiles, catalog Offers.
Output: a Plan (winner, cost breakdown, SLO result, waterfall, runners-up), or a training-job plan.
"""

from __future__ import annotations

from mlcost.plan._answer import binding_constraint
from mlcost.plan._batching import BatchService, simulate_batching
from mlcost.plan._bill import BillSettings, storage_price
from mlcost.plan._estimate import ReplicaSpeed, Unfit, allocatable_mib, replica_speed
from mlcost.plan._fleet import (
    FleetRun,
    ScalingPolicy,
    SpotPolicy,
    node_allocatable,
    pods_per_node,
    replicas_needed,
    simulate_fleet,
)
from mlcost.plan._platform import price_line
from mlcost.plan._queue_simulation import simulate_queue
from mlcost.plan._queueing import (
    SloViolations,
    erlang_c,
    latency_ms_percentile,
    max_arrivals_per_s,
    share_over_slo,
    utilisation,
    violations,
)
from mlcost.plan._search import SearchSettings
from mlcost.plan._service_time import ServiceTime
from mlcost.plan._serving import plan_serving, variant_flops
from mlcost.plan._speeds import measured_service
from mlcost.plan._spot_pools import spread_over_zones
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
from mlcost.plan._training_plan import (
    TrainingCheck,
    TrainingPlan,
    plan_training_workload,
    recommend,
)
from mlcost.plan._workload import (
    WorkloadKind,
    load_training_workload,
    load_workload,
    workload_kind,
)

__all__ = [
    "BUILTIN_HOURLY_WEIGHTS",
    "BatchService",
    "BillSettings",
    "FleetRun",
    "ReplicaSpeed",
    "ScalingPolicy",
    "SearchSettings",
    "ServiceTime",
    "SloViolations",
    "SpotPolicy",
    "TrainingCheck",
    "TrainingJob",
    "TrainingOption",
    "TrainingPlan",
    "TrainingPricing",
    "TrainingSettings",
    "TrainingSimulation",
    "Unfit",
    "WorkloadKind",
    "allocatable_mib",
    "arrivals_per_minute",
    "binding_constraint",
    "erlang_c",
    "latency_ms_percentile",
    "load_training_workload",
    "load_workload",
    "max_arrivals_per_s",
    "measured_service",
    "minute_shape",
    "node_allocatable",
    "peak_to_mean",
    "plan_serving",
    "plan_training",
    "plan_training_workload",
    "pods_per_node",
    "price_line",
    "read_trace",
    "recommend",
    "replica_speed",
    "replicas_needed",
    "share_over_slo",
    "simulate_batching",
    "simulate_fleet",
    "simulate_queue",
    "simulate_training",
    "spread_over_zones",
    "storage_price",
    "utilisation",
    "variant_flops",
    "violations",
    "workload_kind",
]
