"""Traffic against replicas over the busiest simulated day, replayed with the planner's engine.

The plan keeps each option's month as figures (replicas min / mean / max, the replica's
target request rate), not its 43,200 minutes: a per-minute series for every option would
multiply plan.json's size for one chart. The day is replayed instead from what the plan
does keep and the workload it was made from: the workload's traffic shape through
``arrivals_per_minute`` and the option's scaling (its floor, its ceiling, the request
rate per replica the autoscaler held) through ``simulate_fleet``, the same engine the
search ran, so the replay cannot drift from the plan (a test holds its monthly mean to
the plan's). Spot reclaims are left out: this is the expected day, not one unlucky
draw. A serverless option's instances follow the requests themselves, so it is not
replayed here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from mlcost.core import PlanOption, Workload
from mlcost.plan import (
    SearchSettings,
    SpotPolicy,
    arrivals_per_minute,
    simulate_fleet,
)
from mlcost.report._charts import MUTED, PALETTE, draw
from mlcost.report._plan_sections import hardware, plan_missing
from mlcost.report._section import Section, no_data
from mlcost.report._sources import Sources

MINUTES_PER_DAY = 1440
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_NO_RECLAIMS = SpotPolicy(on_demand_base_nodes=0, spot_share=0.0)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int32]
# The options that run one fleet (a machine type on Kubernetes and in a VM group), and its replicas.
Fleet = tuple[list[PlanOption], IntArray]


def replay_replicas(arrivals: FloatArray, option: PlanOption) -> IntArray:
    """The replicas ``option`` runs in each minute of ``arrivals`` (requests a minute over
    the plan's horizon): the autoscaler's spec.replicas. Raises PlanError from the engine,
    and ValueError for an option without its replica spec (a plan older than deploy)."""
    spec = option.replica
    if spec is None:
        raise ValueError(f"{option.label}: the plan keeps no replica spec; run mlcost plan again")
    run = simulate_fleet(
        arrivals / 60.0,
        mean_service_s=spec.target_utilisation / spec.target_requests_per_s,
        pods_per_node=option.pods_per_node,
        scaling=SearchSettings().scaling(
            is_autoscaled=option.scaling == "autoscaled",
            min_replicas=option.min_replicas,
            max_replicas=option.replicas_max,
            target_utilisation=spec.target_utilisation,
        ),
        spot=_NO_RECLAIMS,
    )
    return run.desired_replicas


def traffic_day_section(sources: Sources) -> Section:
    """Requests a minute over the busiest day, and the replicas each machine option runs."""
    key, title = "traffic-day", "Traffic vs replicas over a simulated day"
    plan, workload = sources.plan, sources.workload
    if plan is None:
        return plan_missing(key, title)
    if workload is None or (workload.name or "workload") != plan.workload:
        return no_data(
            key,
            title,
            f"the workload file of the plan ({plan.workload}) was not given",
            "mlcost report --workload workload.yaml (the file mlcost plan read)",
        )
    machines = [
        (option, spec)
        for option in plan.platforms
        if option.platform != "serverless" and (spec := option.replica) is not None
    ]
    if not machines:
        return no_data(
            key,
            title,
            "the plan weighed no machine option (serverless follows the requests themselves)",
            "mlcost plan with kubernetes or vm-group in platform.allowed",
        )
    arrivals = arrivals_per_minute(workload.traffic, horizon_days=workload.horizon_days)
    replayed = {option.label: replay_replicas(arrivals, option) for option, _ in machines}
    curves: dict[bytes, Fleet] = {}
    for option, _ in machines:
        replicas = replayed[option.label]
        curves.setdefault(replicas.tobytes(), ([], replicas))[0].append(option)
    fleets = list(curves.values())
    daily = arrivals.reshape(-1, MINUTES_PER_DAY)
    day = int(daily.sum(axis=1).argmax())
    minutes = _minutes_of(day)
    requests = daily[day]
    name = _day_name(workload, day)
    takeaway = (
        f"On the busiest day ({name}) requests swing from {requests.min():,.0f} to "
        f"{requests.max():,.0f} a minute ({requests.max() / max(requests.min(), 1.0):.1f}x); "
        f"{_follows(fleets, day)}."
    )
    rows = tuple(
        (
            option.label,
            f"{option.min_replicas}-{option.replicas_max}",
            f"{replayed[option.label][minutes].mean():.2f}",
            f"{option.replicas_mean:.2f}",
            f"{spec.target_requests_per_s:,.1f}",
        )
        for option, spec in machines
    )
    serverless = [o for o in plan.platforms if o.platform == "serverless"]
    notes = tuple(
        f"{o.label}: not replayed; a function runs one instance per request in flight "
        f"(mean {o.replicas_mean:.2f} over the month, {o.cold_starts_expected:,.0f} cold starts)"
        for o in serverless
    )
    return Section(
        key,
        title,
        takeaway,
        draw(key, (8.0, 3.6), lambda figure: _paint_day(figure, requests, fleets, day, name)),
        ("option", "replicas", "mean this day", "mean over the month", "requests/s a replica"),
        rows,
        basis=(
            "estimated: traffic is the workload's daily shape, not observed requests",
            "estimated: replicas replayed with the planner's autoscaler model "
            "(HPA, stabilization window, pod start), without spot reclaims",
        ),
        notes=notes,
    )


def _paint_day(
    figure: Any,
    requests: FloatArray,
    curves: list[Fleet],
    day: int,
    name: str,
) -> None:
    """The day's requests as a grey area, each fleet's replicas as a step line over it."""
    minutes = _minutes_of(day)
    traffic_axes = figure.subplots()
    hours = np.arange(MINUTES_PER_DAY) / 60.0
    traffic_axes.fill_between(hours, requests, color=MUTED, alpha=0.35, linewidth=0)
    traffic_axes.set_ylabel("requests a minute (workload's shape)")
    traffic_axes.set_xlabel(f"hour of the day ({name})")
    traffic_axes.set_xlim(0, 24)
    traffic_axes.set_xticks(range(0, 25, 3))
    traffic_axes.grid(axis="x")
    replica_axes = traffic_axes.twinx()
    replica_axes.spines["right"].set_visible(True)
    for i, (options, replicas) in enumerate(curves):
        replica_axes.step(
            hours,
            replicas[minutes],
            where="post",
            linewidth=2,
            color=PALETTE[i % len(PALETTE)],
            label=_names(options),
        )
    replica_axes.set_ylabel("replicas (simulated)")
    replica_axes.set_ylim(0, max(int(c[minutes].max()) for _, c in curves) + 1)
    replica_axes.legend(loc="upper left", fontsize=8)


def _follows(curves: list[Fleet], day: int) -> str:
    """How the first autoscaled fleet follows ``day`` (or what a fixed one runs)."""
    minutes = _minutes_of(day)
    for options, replicas in curves:
        option, shown = options[0], replicas[minutes]
        if option.scaling != "autoscaled":
            continue
        if shown.min() == shown.max() == option.min_replicas:
            return (
                f"{_names(options)} stays at its floor of {option.min_replicas} replicas all day: "
                "the floor alone covers the peak"
            )
        return (
            f"{_names(options)} follows with {shown.min()} to {shown.max()} replicas (mean "
            f"{shown.mean():.1f}) where a fleet fixed at this day's peak runs {shown.max()} all day"
        )
    options, replicas = curves[0]
    return f"{_names(options)} runs a fixed {replicas[minutes].max()} replicas, sized for the peak"


def _day_name(workload: Workload, day: int) -> str:
    """``Monday, day 1``; a trace's days have no weekday (minute 0 is its first row)."""
    if workload.traffic.trace is not None:
        return f"day {day + 1} of the trace"
    return f"{_WEEKDAYS[day % 7]}, day {day + 1}"


def _minutes_of(day: int) -> slice:
    """Day ``day``'s minutes in the horizon's series."""
    return slice(day * MINUTES_PER_DAY, (day + 1) * MINUTES_PER_DAY)


def _names(options: list[PlanOption]) -> str:
    """``t3.medium (kubernetes, vm-group)``: options with the same fleet, named once."""
    machines = dict.fromkeys(hardware(o) for o in options)
    platforms = dict.fromkeys(o.platform for o in options)
    return f"{', '.join(machines)} ({', '.join(platforms)})"
