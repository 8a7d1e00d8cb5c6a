"""`mlcost monitor`: what a running workload costs and does, read from Prometheus, against its plan.

A reading covers a window up to the workload's last scrape, or the part of it Prometheus
holds (a server started ten minutes ago is read over ten minutes, not diluted over the
hour asked), so every rate is over time the workload was watched. Counters are read as
their growth over that span, and a figure is a ratio of growths: cost of 1,000
predictions = 1000 x cost / predictions, the monthly run-rate = cost / hours x 730.

Cost is the workload's share of its nodes by OpenCost's rule (finops/_allocation.py) when
the cluster's metrics cover its pods, else the servers' own meter (their machine's price
over the seconds they ran: serve/_metrics.py). Thresholds that raise a flag: GPU
utilization under 30 %, spot interruptions over 5 % of nodes a month (the AWS Spot
Advisor's lowest bucket), an escalation rate off its calibrated value by more than 5
points beyond sampling noise, and a p99 over the SLO.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mlcost.catalog import Catalog
from mlcost.core import (
    MonitorFigure,
    MonitorReading,
    Plan,
    PlanGap,
    PlanOption,
    PrometheusError,
    ServeError,
)
from mlcost.cost import HOURS_PER_MONTH
from mlcost.deploy import kubernetes_option
from mlcost.finops import _signals
from mlcost.finops._allocation import Allocation, read_allocation
from mlcost.finops._prometheus import Prometheus
from mlcost.finops._signals import GpuMetric
from mlcost.serve import read_threshold

GPU_UTILIZATION_FLOOR = 0.30
SPOT_INTERRUPTIONS_CEILING_PER_NODE_MONTH = 0.05
ESCALATION_DRIFT = 0.05
# Sampling noise: a gap within this many standard errors of the calibrated rate is not drift.
_DRIFT_SIGMAS = 3.0
# Range queries and subqueries take at most this many steps over the window.
_MAX_STEPS = 720
_DEV_GPU_UTIL_WARNING = (
    "GPU utilization from DCGM_FI_DEV_GPU_UTIL (no DCGM_FI_PROF_GR_ENGINE_ACTIVE): it "
    "counts time any kernel ran, reads 0 on MIG slices and 100 on a hung NCCL collective; "
    "enable DCGM's profiling metrics for a true figure"
)


@dataclass(frozen=True, slots=True)
class Calibrated:
    """What a cascade calibration (cascade.json) expects of live traffic: the share of texts
    tier 1 escalates at ``threshold``, measured on ``rows`` held-out test rows."""

    threshold: float
    escalation_rate: float
    rows: int
    source: str


def read_calibration(path: Path) -> Calibrated:
    """The chosen method's threshold and test escalation rate from a calibration file.

    Raises ServeError when the file is not one `mlcost cascade calibrate` wrote.
    """
    threshold = read_threshold(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        method = record["chosen"]["method"]
        chosen = next(c for c in record["choices"] if c["method"] == method)
        rate, rows = float(chosen["escalation_rate"]), int(record["test_rows"])
    except (ValueError, KeyError, TypeError, StopIteration) as exc:
        raise ServeError(
            f"{path}: no escalation rate for the chosen method ({exc!r}); write it again "
            "with mlcost cascade calibrate"
        ) from exc
    return Calibrated(threshold.value, rate, rows, threshold.source)


def monitored_option(plan: Plan) -> tuple[PlanOption, str]:
    """The plan option a scraped workload runs, and a note when it is not the winner: a
    serverless winner has no server to scrape, so its Kubernetes option (the one deploy
    renders) stands in. Raises DeployError when the plan weighed none."""
    if plan.winner.platform != "serverless":
        return plan.winner, ""
    option = kubernetes_option(plan)
    return option, (
        f"the plan's winner runs serverless ({plan.winner.label}); compared with its "
        f"Kubernetes option, the one mlcost deploy renders: {option.label}"
    )


def find_workload(prometheus: Prometheus) -> str:
    """The one scrape job with `mlcost serve` targets. Raises PrometheusError when there is
    none, or several (the message lists them)."""
    jobs = sorted(s.labels.get("job", "") for s in prometheus.query(_signals.serve_jobs()))
    if len(jobs) == 1:
        return jobs[0]
    found = f"jobs {', '.join(jobs)}" if jobs else "no job"
    raise PrometheusError(
        f"Prometheus at {prometheus.where} scrapes {found} with mlcost serve metrics; "
        "name the workload (its scrape job)"
    )


def read_monitor(
    prometheus: Prometheus,
    workload: str,
    *,
    window_s: float,
    catalog: Catalog,
    plan: Plan | None = None,
    calibrated: Calibrated | None = None,
    now: datetime | None = None,
) -> MonitorReading:
    """One reading of ``workload`` over the ``window_s`` seconds before its last scrape.

    Raises PrometheusError when Prometheus fails or holds fewer than two scrapes of it,
    and DeployError when the plan weighed no option that a server could run.
    """
    at, covered_s, replicas = _coverage(prometheus, workload, window_s, now)
    read = _Reader(prometheus, workload, _signals.range_of(covered_s), at)
    notes: list[str] = []
    serving = _serving_figures(read, covered_s, replicas)
    step_s = _step_s(window_s)
    allocation, allocation_notes = read_allocation(
        prometheus, workload, window=read.window, step_s=step_s, at=at, catalog=catalog
    )
    notes += allocation_notes
    figures = serving + _cost_figures(read, allocation, covered_s, _value(serving, "predictions"))
    figures += _gpu_figures(read, notes)
    figures += _spot_figures(read, step_s, notes)
    figures += _cascade_figures(read, serving, calibrated, notes)
    option: PlanOption | None = None
    gaps: tuple[PlanGap, ...] = ()
    if plan is not None:
        option, note = monitored_option(plan)
        notes += [note] if note else []
        gaps = plan_gaps(plan, option, figures)
    return MonitorReading(
        workload=workload,
        taken_at=at,
        window_s=window_s,
        covered_s=covered_s,
        source=prometheus.where,
        figures=tuple(figures),
        plan_gaps=gaps,
        plan_option=option.label if option is not None else "",
        flags=tuple(flags(figures, plan, calibrated)),
        notes=tuple(notes),
    )


@dataclass(frozen=True, slots=True)
class _Reader:
    """Instant queries of one reading: at its time, over its span."""

    prometheus: Prometheus
    workload: str
    window: str
    at: datetime

    def scalar(self, promql: str) -> float | None:
        """The query's one value; None when it has none (absent series, 0 / 0)."""
        samples = self.prometheus.query(promql, at=self.at)
        value = samples[0].value if samples else math.nan
        return value if math.isfinite(value) else None

    def signal(self, query: Callable[[str, str], str]) -> tuple[float | None, str]:
        """A workload signal of _signals over the span, and its PromQL."""
        promql = query(self.workload, self.window)
        return self.scalar(promql), promql


def _coverage(
    prometheus: Prometheus, workload: str, window_s: float, now: datetime | None
) -> tuple[datetime, float, tuple[float, float]]:
    """The reading's time (the last scrape), the seconds of the window Prometheus holds, and
    the replicas up over them (mean, max; a step without any target counts 0)."""
    last = prometheus.query(_signals.last_scrape(workload), at=now)
    if not last:
        raise PrometheusError(
            f"Prometheus at {prometheus.where} has no target of job {workload!r}; check the "
            "workload's name (its scrape job) and that Prometheus scrapes its /metrics"
        )
    at = datetime.fromtimestamp(last[0].value, UTC)
    step = _step_s(window_s)
    series = prometheus.query_range(
        _signals.replicas(workload),
        start=at - timedelta(seconds=window_s),
        end=at,
        step=timedelta(seconds=step),
    )
    points = series[0].points if series else ()
    covered_s = (at - points[0][0]).total_seconds() if points else 0.0
    if covered_s <= 0:
        raise PrometheusError(
            f"Prometheus holds one scrape of job {workload!r} so far; ask again after the "
            "next scrape"
        )
    steps = math.floor(covered_s / step) + 1
    values = [value for _, value in points]
    return at, covered_s, (sum(values) / steps, max(values))


def _step_s(window_s: float) -> int:
    return max(1, math.ceil(window_s / _MAX_STEPS))


def _measured(name: str, value: float | None, source: str, note: str = "") -> MonitorFigure:
    return MonitorFigure(name, value, "measured", source, note)


def _value(figures: list[MonitorFigure], name: str) -> float | None:
    return next((f.value for f in figures if f.name == name), None)


def _ratio(numerator: float | None, denominator: float | None, scale: float = 1.0) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator * scale


def _serving_figures(
    read: _Reader, covered_s: float, replicas: tuple[float, float]
) -> list[MonitorFigure]:
    """Traffic, latency and replicas, from the servers' own metrics."""
    requests, requests_q = read.signal(_signals.requests)
    predictions, predictions_q = read.signal(_signals.predictions)
    p99_s, p99_q = read.signal(_signals.latency_s)
    up = _signals.replicas(read.workload)
    return [
        _measured("requests", requests, requests_q, "answered requests (200)"),
        _measured("requests_per_s", _ratio(requests, covered_s), f"{requests_q} / covered s"),
        _measured("predictions", predictions, predictions_q),
        _measured(
            "latency_ms_p99",
            p99_s * 1000.0 if p99_s is not None else None,
            p99_q,
            "" if p99_s is not None else "no request answered in the window",
        ),
        _measured("replicas_mean", replicas[0], f"mean of {up} over the covered span"),
        _measured("replicas_max", replicas[1], f"max of {up} over the covered span"),
    ]


def _cost_figures(
    read: _Reader, allocation: Allocation | None, covered_s: float, predictions: float | None
) -> list[MonitorFigure]:
    """What the workload cost over the span, per 1,000 predictions and as a monthly run-rate."""
    meter_usd, meter_q = read.signal(_signals.serve_cost_usd)
    figures = [
        _measured("serve_meter_usd", meter_usd, meter_q, "the servers' machine price x uptime")
    ]
    if allocation is None:
        compute_usd, source = meter_usd, "serve_meter_usd"
    else:
        types = sorted(
            {f"{n.instance_type} {'spot' if n.is_spot else 'on-demand'}" for n in allocation.nodes}
        )
        rule = f"catalog price of {len(allocation.nodes)} node(s) ({', '.join(types)}) x max(request, usage)"
        compute_usd, source = allocation.compute_usd, "allocated_usd + its share of idle_usd"
        figures += [
            _measured("allocated_usd", allocation.workload_usd, f"OpenCost allocation: {rule}"),
            _measured(
                "idle_usd", allocation.idle_usd, "its nodes' cost less every tenant's allocation"
            ),
            _measured("nodes_usd", allocation.nodes_usd, rule),
            _measured(
                "allocated_usd_per_1k_predictions",
                _ratio(allocation.workload_usd, predictions, 1000.0),
                "1000 x allocated_usd / predictions",
            ),
        ]
    hours = covered_s / 3600.0
    return [
        *figures,
        _measured("compute_usd", compute_usd, source),
        _measured(
            "compute_usd_per_1k_predictions",
            _ratio(compute_usd, predictions, 1000.0),
            "1000 x compute_usd / predictions",
        ),
        _measured(
            "compute_usd_per_month",
            _ratio(compute_usd, hours, HOURS_PER_MONTH),
            f"compute_usd / covered hours x {HOURS_PER_MONTH:g}",
        ),
    ]


def choose_gpu_utilization(
    engine_active: float | None, dev_util: float | None
) -> tuple[float | None, GpuMetric | None, str]:
    """The GPU utilization to trust (value, metric, warning): the graphics engine's active
    share when DCGM profiles, else the coarse DCGM_FI_DEV_GPU_UTIL with a warning."""
    if engine_active is not None:
        return engine_active, "DCGM_FI_PROF_GR_ENGINE_ACTIVE", ""
    if dev_util is not None:
        return dev_util, "DCGM_FI_DEV_GPU_UTIL", _DEV_GPU_UTIL_WARNING
    return None, None, ""


def _gpu_figures(read: _Reader, notes: list[str]) -> list[MonitorFigure]:
    queries = {
        metric: _signals.gpu_utilization(metric, read.workload, read.window)
        for metric in _signals.GPU_SCALE
    }
    values = {metric: read.scalar(promql) for metric, promql in queries.items()}
    value, metric, warning = choose_gpu_utilization(
        values["DCGM_FI_PROF_GR_ENGINE_ACTIVE"], values["DCGM_FI_DEV_GPU_UTIL"]
    )
    if metric is None:
        notes.append("no DCGM GPU metrics for the workload's pods: no GPU, or no DCGM exporter")
        return []
    notes += [warning] if warning else []
    sm = values["DCGM_FI_PROF_SM_ACTIVE"]
    figures = [_measured("gpu_utilization", value, queries[metric])]
    if sm is not None:
        figures.append(_measured("gpu_sm_active", sm, queries["DCGM_FI_PROF_SM_ACTIVE"]))
    return figures


def _spot_figures(read: _Reader, step_s: int, notes: list[str]) -> list[MonitorFigure]:
    """Spot interruptions per spot node-month, the cluster's (Karpenter's counter is)."""
    promql = _signals.spot_interruptions(read.window)
    interruptions = read.scalar(promql)
    hours = read.scalar(_signals.spot_node_hours(read.window, step_s))
    if interruptions is None or not hours:
        missing = (
            "karpenter_interruption_received_messages_total"
            if interruptions is None
            else "spot nodes in kube_node_labels"
        )
        notes.append(f"no {missing}: spot interruption rate not read")
        return []
    return [
        _measured("spot_interruptions", interruptions, promql, "the whole cluster's"),
        _measured(
            "spot_interruptions_per_node_month",
            interruptions / hours * HOURS_PER_MONTH,
            _signals.spot_interruptions_per_node_month(read.window, step_s),
            f"over {hours:.3g} spot node-hours",
        ),
    ]


def _cascade_figures(
    read: _Reader,
    serving: list[MonitorFigure],
    calibrated: Calibrated | None,
    notes: list[str],
) -> list[MonitorFigure]:
    escalations, promql = read.signal(_signals.escalations)
    rate = _ratio(escalations, _value(serving, "predictions"))
    figures = [_measured("escalation_rate", rate, f"{promql} / predictions")]
    if calibrated is None:
        return figures
    threshold_q = _signals.threshold(read.workload)
    live = read.scalar(threshold_q)
    if live is not None and not _is_calibrated_threshold(live, calibrated):
        notes.append(
            f"the servers' threshold {live:g} is not the calibrated {calibrated.threshold:g} "
            "(changed through /admin/threshold?): drift not judged"
        )
    figures.append(_measured("cascade_threshold", live, threshold_q))
    figures.append(
        MonitorFigure(
            "escalation_rate_calibrated",
            calibrated.escalation_rate,
            "estimated",
            calibrated.source,
            f"measured on {calibrated.rows} held-out test rows, expected of live traffic",
        )
    )
    return figures


def _is_calibrated_threshold(live: float, calibrated: Calibrated) -> bool:
    # The file keeps 6 decimals of the threshold the server was given.
    return abs(live - calibrated.threshold) <= 1e-6


def escalation_drift(rate: float, texts: float, calibrated: Calibrated) -> str:
    """A flag when the live escalation rate is off its calibrated value by more than 5
    points and more than sampling noise explains (3 standard errors); else ""."""
    expected = calibrated.escalation_rate
    noise = _DRIFT_SIGMAS * math.sqrt(max(expected * (1 - expected), 1e-12) / max(texts, 1.0))
    gap = rate - expected
    if abs(gap) <= max(ESCALATION_DRIFT, noise):
        return ""
    side = "more" if gap > 0 else "fewer"
    return (
        f"cascade drift: tier 1 escalates {rate:.1%} of {texts:,.0f} texts, {side} than the "
        f"{expected:.1%} calibrated on {calibrated.rows} test rows: the traffic moved from "
        "the calibration rows; calibrate again on recent traffic"
    )


def flags(
    figures: list[MonitorFigure], plan: Plan | None, calibrated: Calibrated | None
) -> list[str]:
    """The signals past their thresholds (module docstring), one line each."""
    found = []
    gpu = _value(figures, "gpu_utilization")
    if gpu is not None and gpu < GPU_UTILIZATION_FLOOR:
        found.append(
            f"GPU utilization {gpu:.0%} is under {GPU_UTILIZATION_FLOOR:.0%}: batch more, "
            "share the GPU (MIG, time-slicing) or serve from a CPU or a smaller GPU"
        )
    spot = _value(figures, "spot_interruptions_per_node_month")
    if spot is not None and spot > SPOT_INTERRUPTIONS_CEILING_PER_NODE_MONTH:
        found.append(
            f"spot interruptions {spot:.0%} of nodes a month, over "
            f"{SPOT_INTERRUPTIONS_CEILING_PER_NODE_MONTH:.0%}: diversify the spot types or "
            "keep an on-demand base"
        )
    rate, texts = _value(figures, "escalation_rate"), _value(figures, "predictions")
    live = _value(figures, "cascade_threshold")
    if calibrated is not None and rate is not None and texts and live is not None:
        drift = escalation_drift(rate, texts, calibrated)
        if drift and _is_calibrated_threshold(live, calibrated):
            found.append(drift)
    p99 = _value(figures, "latency_ms_p99")
    if (
        plan is not None
        and plan.latency_percentile == 99
        and p99 is not None
        and p99 > plan.latency_ms
    ):
        found.append(f"p99 {p99:,.1f} ms is over the SLO of {plan.latency_ms:g} ms")
    return found


def plan_gaps(plan: Plan, option: PlanOption, figures: list[MonitorFigure]) -> tuple[PlanGap, ...]:
    """The measured figures against what the plan predicted for ``option``."""
    planned = planned_figures(plan, option)
    return tuple(PlanGap(name, _value(figures, name), value) for name, value in planned.items())


def planned_figures(plan: Plan, option: PlanOption) -> dict[str, float]:
    """What the plan predicted for ``option``, under the names of a reading's figures. Cost
    is the compute bill (what the meters measure), over the plan's requests."""
    hours = plan.horizon_days * 24.0
    monthly_requests = plan.requests * HOURS_PER_MONTH / hours if hours else 0.0
    compute = option.cost.compute_usd_per_month
    planned = {
        "requests_per_s": plan.requests / (hours * 3600.0) if hours else 0.0,
        "replicas_mean": option.replicas_mean,
        "latency_ms_p99": option.latency_ms_p99,
        "compute_usd_per_1k_predictions": compute / monthly_requests * 1000.0
        if monthly_requests
        else 0.0,
        "compute_usd_per_month": compute,
    }
    if option.spot_risk is not None:
        planned["spot_interruptions_per_node_month"] = (
            option.spot_risk.interruptions_per_node_hour * HOURS_PER_MONTH
        )
    return planned
