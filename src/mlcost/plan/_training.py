"""Training-job planner: on-demand, spot, or spot with an on-demand fallback, and what each costs.

The process that both the formulas and the Monte Carlo follow:

- The job needs W seconds of wall time on n nodes when nothing goes wrong. On spot, the
  job stops when any node is reclaimed: with r interruptions per node-hour that is a
  Poisson process at lambda = n*r, so the job's MTBI is M = 1/lambda.
- The work is cut into segments of T compute seconds (Young/Daly for C and M), each
  followed by a checkpoint write of C seconds, except the last segment: the job ends there.
- An interruption during compute or a write loses the segment in progress. Then the job
  waits D (replacement delay) for a new spot node: the job is not running, so no
  interruption is counted, and only the n-1 surviving nodes are billed (the reclaimed node
  is not; the survivors are kept). Then it restores for R on all n nodes, and an
  interruption during the restore starts another D + R.
- On-demand is never interrupted. It writes no checkpoints (Young/Daly for no
  interruptions is T = infinity) unless an interval is forced; hardware failures are
  not modelled.
- Spot with fallback (needs a deadline): run on spot, and switch to on-demand for the
  rest at the moment the slack only just covers a restore plus the work left after the
  last checkpoint; the segment in progress is abandoned, and the rest runs without
  checkpoints (nothing left to guard against). So it meets every deadline that
  on-demand meets; when the deadline leaves less than R of slack at the start, the whole
  job runs on-demand, without checkpoints.

Expected values, per segment of L seconds (J. T. Daly, "A higher order estimate of the
optimum checkpoint interval for restart dumps", FGCS 22(3), 2006, section 3: with D = 0
his T_w = M e^(R/M) (e^((T+C)/M) - 1) per segment):

    wall          = (M + rho) * (e^(L/M) - 1),   rho = e^(R/M) D + M (e^(R/M) - 1)
    lost work     = M (e^(L/M) - 1) - L
    interruptions = (e^(L/M) - 1) e^(R/M)
    node-seconds  = n * wall - D * interruptions

rho is one recovery: e^(R/M) tries of D plus a restore cut short by the next interruption.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final, Literal

from mlcost.core import Basis, UsageError, require
from mlcost.cost import young_daly_interval_s

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Floats = npt.NDArray[np.floating[Any]]
    Ints = npt.NDArray[np.int64]

TrainingPricing = Literal["on-demand", "spot", "spot-with-fallback"]
_PRICINGS: Final[tuple[TrainingPricing, ...]] = ("on-demand", "spot", "spot-with-fallback")
_SECONDS_PER_HOUR: Final = 3600.0
_MAX_INTERRUPTIONS_PER_RUN: Final = 100_000.0  # past this the Monte Carlo would take minutes
_MAX_EXPONENT: Final = 700.0  # math.exp overflows a float past ~709


@dataclass(frozen=True, slots=True)
class TrainingJob:
    """A training job to place: its work, its nodes, and what a checkpoint and a restart take.

    ``work_hours`` is the wall time the job needs on ``nodes`` nodes with no interruption
    and no checkpoint; ``restore_s`` loads the last checkpoint and restarts;
    ``replacement_delay_s`` is the wait for a new spot node after an interruption.
    Raises UsageError for a negative or non-finite number, or fewer than 1 node.
    """

    work_hours: float
    nodes: int
    checkpoint_write_s: float
    restore_s: float
    replacement_delay_s: float
    deadline_hours: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.nodes, bool) or not isinstance(self.nodes, int) or self.nodes < 1:
            raise UsageError(
                f"training job nodes must be a whole number, 1 or more, got {self.nodes!r}; "
                "give the number of machines the job runs on"
            )
        _check("work_hours", self.work_hours)
        _check("checkpoint_write_s", self.checkpoint_write_s)
        _check("restore_s", self.restore_s, allow_zero=True)
        _check("replacement_delay_s", self.replacement_delay_s, allow_zero=True)
        if self.deadline_hours is not None:
            _check("deadline_hours", self.deadline_hours)


@dataclass(frozen=True, slots=True)
class TrainingSettings:
    """How to run a job: pricing, checkpoint interval, the spot interruption rate and prices.

    ``checkpoint_interval_s`` is compute seconds between checkpoints (inf: none).
    Raises UsageError for an unknown pricing, a negative rate or price, or an interval <= 0.
    """

    pricing: TrainingPricing
    checkpoint_interval_s: float
    interruptions_per_node_hour: float
    on_demand_usd_per_node_hour: float
    spot_usd_per_node_hour: float

    def __post_init__(self) -> None:
        if self.pricing not in _PRICINGS:
            raise UsageError(
                f"pricing {self.pricing!r} is unknown; use one of {', '.join(_PRICINGS)}"
            )
        if not self.checkpoint_interval_s > 0:  # also rejects NaN; inf means no checkpoints
            raise UsageError(
                f"checkpoint_interval_s must be above 0, got {self.checkpoint_interval_s!r}; "
                "leave it out to use the Young/Daly interval"
            )
        _check("interruptions_per_node_hour", self.interruptions_per_node_hour, allow_zero=True)
        _check("on_demand_usd_per_node_hour", self.on_demand_usd_per_node_hour, allow_zero=True)
        _check("spot_usd_per_node_hour", self.spot_usd_per_node_hour, allow_zero=True)


@dataclass(frozen=True, slots=True)
class TrainingOption:
    """One way to run a job and its expected wall time, lost work, interruptions and cost.

    ``probability_meets_deadline`` is None without a deadline; ``fallback_probability`` is
    the share of runs that moved to on-demand (None unless pricing is spot-with-fallback).
    """

    settings: TrainingSettings
    expected_wall_hours: float
    expected_lost_work_hours: float
    expected_interruptions: float
    expected_node_hours: float
    expected_on_demand_node_hours: float
    expected_cost_usd: float
    probability_meets_deadline: float | None
    fallback_probability: float | None
    method: str
    basis: Basis = "estimated"

    @property
    def pricing(self) -> TrainingPricing:
        """The pricing model: on-demand, spot or spot-with-fallback."""
        return self.settings.pricing

    @property
    def checkpoint_interval_s(self) -> float:
        """Compute seconds between checkpoints (inf: no checkpoints)."""
        return self.settings.checkpoint_interval_s


@dataclass(frozen=True, slots=True)
class TrainingSimulation:
    """Monte Carlo summary of one job under one setting: means over ``runs`` seeded runs."""

    settings: TrainingSettings
    runs: int
    seed: int
    wall_hours_mean: float
    wall_hours_stderr: float
    wall_hours_p50: float
    wall_hours_p95: float
    lost_work_hours_mean: float
    interruptions_mean: float
    spot_node_hours_mean: float
    on_demand_node_hours_mean: float
    cost_usd_mean: float
    probability_meets_deadline: float | None
    fallback_probability: float | None


def plan_training(
    job: TrainingJob,
    *,
    on_demand_usd_per_node_hour: float,
    spot_usd_per_node_hour: float,
    interruptions_per_node_hour: float,
    checkpoint_interval_s: float | None = None,
    runs: int = 20_000,
    seed: int = 0,
) -> list[TrainingOption]:
    """The on-demand, spot and (with a deadline) spot-with-fallback options for ``job``.

    Spot checkpoints at the Young/Daly interval for the job's MTBI 1/(nodes * rate), or at
    ``checkpoint_interval_s`` when given (which also makes on-demand checkpoint). Expected
    values are Daly's (module docstring); deadline probabilities and the fallback option
    come from a Monte Carlo of ``runs`` runs seeded with ``seed``.
    Raises UsageError for bad inputs (named in the message).
    """
    _check_runs(runs, seed)
    mtbi_s = _job_mtbi_s(job, interruptions_per_node_hour)
    if checkpoint_interval_s is None:
        spot_interval_s = young_daly_interval_s(job.checkpoint_write_s, mtbi_s)
        on_demand_interval_s = math.inf
    else:
        spot_interval_s = on_demand_interval_s = checkpoint_interval_s
    prices = (interruptions_per_node_hour, on_demand_usd_per_node_hour, spot_usd_per_node_hour)
    on_demand = TrainingSettings("on-demand", on_demand_interval_s, *prices)
    spot = TrainingSettings("spot", spot_interval_s, *prices)
    options = [_expected_option(job, on_demand), _expected_option(job, spot)]
    if job.deadline_hours is not None:
        spot_sim = simulate_training(job, spot, runs=runs, seed=seed)
        method = f"{options[1].method}; deadline: Monte Carlo, {runs:,} runs, seed {seed}"
        meets = spot_sim.probability_meets_deadline
        options[1] = replace(options[1], probability_meets_deadline=meets, method=method)
        fallback = TrainingSettings("spot-with-fallback", spot_interval_s, *prices)
        options.append(_simulated_option(simulate_training(job, fallback, runs=runs, seed=seed)))
    return options


def simulate_training(
    job: TrainingJob, setting: TrainingOption | TrainingSettings, *, runs: int, seed: int
) -> TrainingSimulation:
    """A Monte Carlo of ``job`` run ``runs`` times under ``setting``, seeded with ``seed``.

    Exponential times to the next interruption (rate nodes * r while computing, writing or
    restoring), the replacement delay and restore after each, the segment in progress lost;
    with spot-with-fallback, the switch to on-demand of the module docstring.
    Raises UsageError for runs < 1, a negative seed, fallback without a deadline, or a job
    expected to be interrupted more than 100,000 times; MissingDependencyError without numpy.
    """
    settings = setting.settings if isinstance(setting, TrainingOption) else setting
    _check_runs(runs, seed)
    if settings.pricing == "spot-with-fallback" and job.deadline_hours is None:
        raise UsageError("spot-with-fallback needs a deadline; set deadline_hours on the job")
    if settings.pricing != "on-demand":
        expected = _expected_spot(job, settings)
        if not expected.interruptions <= _MAX_INTERRUPTIONS_PER_RUN:
            raise UsageError(
                f"each spot run would be interrupted about {expected.interruptions:,.0f} times "
                f"({settings.interruptions_per_node_hour:g}/node-hour on {job.nodes} nodes), too "
                "many to simulate; check interruptions_per_node_hour or plan on-demand"
            )
    require("numpy", extra="train", purpose="simulating a training plan")
    return _Simulation(job, settings, runs=runs, seed=seed).summary()


# -- expected values (Daly 2006) -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Segments:
    """The job cut at checkpoints: ``count`` segments, all but the last ``interval_s + write_s``."""

    count: int
    interval_s: float
    write_s: float
    last_s: float

    @property
    def full_s(self) -> float:
        return self.interval_s + self.write_s

    @property
    def work_s(self) -> float:
        return (self.count - 1) * self.interval_s + self.last_s

    @property
    def wall_s(self) -> float:
        """Seconds from start to end, uninterrupted (writes included)."""
        return (self.count - 1) * self.full_s + self.last_s


def _segments(job: TrainingJob, interval_s: float) -> _Segments:
    """The segments of ``job`` checkpointed every ``interval_s`` compute seconds."""
    work_s = job.work_hours * _SECONDS_PER_HOUR
    if interval_s >= work_s:
        return _Segments(1, work_s, job.checkpoint_write_s, work_s)
    count = math.ceil(work_s / interval_s)
    last_s = work_s - (count - 1) * interval_s
    if last_s <= 1e-9 * work_s:  # work a whole multiple of the interval, up to rounding
        count, last_s = count - 1, last_s + interval_s
    return _Segments(count, interval_s, job.checkpoint_write_s, last_s)


@dataclass(frozen=True, slots=True)
class _Expected:
    wall_s: float
    lost_s: float
    interruptions: float
    node_s: float

    def __add__(self, other: _Expected) -> _Expected:
        return _Expected(
            self.wall_s + other.wall_s,
            self.lost_s + other.lost_s,
            self.interruptions + other.interruptions,
            self.node_s + other.node_s,
        )

    def times(self, count: int) -> _Expected:
        if count == 0:  # 0 * inf would be NaN
            return _Expected(0.0, 0.0, 0.0, 0.0)
        wall_s, lost_s, interruptions, node_s = (
            self.wall_s,
            self.lost_s,
            self.interruptions,
            self.node_s,
        )
        return _Expected(count * wall_s, count * lost_s, count * interruptions, count * node_s)


def _expected_segment(job: TrainingJob, length_s: float, rate_per_s: float) -> _Expected:
    """Expected wall, lost work, interruptions and node-seconds of one segment (Daly 2006)."""
    n, restore_s, delay_s = job.nodes, job.restore_s, job.replacement_delay_s
    if rate_per_s == 0:
        return _Expected(length_s, 0.0, 0.0, n * length_s)
    mtbi_s = 1.0 / rate_per_s
    tries = _expm1(length_s / mtbi_s)  # failed attempts before the segment completes
    restores = math.exp(min(restore_s / mtbi_s, _MAX_EXPONENT))  # restores tried per recovery
    recovery_s = restores * delay_s + mtbi_s * (restores - 1.0)
    wall_s = (mtbi_s + recovery_s) * tries
    # n * wall - D * interruptions, written so an infinite segment stays inf (not inf - inf).
    node_s = tries * (n * mtbi_s + (n - 1) * restores * delay_s + n * mtbi_s * (restores - 1.0))
    return _Expected(wall_s, mtbi_s * tries - length_s, tries * restores, node_s)


def _expm1(x: float) -> float:
    return math.inf if x > _MAX_EXPONENT else math.expm1(x)


def _expected_spot(job: TrainingJob, settings: TrainingSettings) -> _Expected:
    """Expected values of ``job`` run on spot to the end (no fallback)."""
    segments = _segments(job, settings.checkpoint_interval_s)
    rate_per_s = settings.interruptions_per_node_hour * job.nodes / _SECONDS_PER_HOUR
    full = _expected_segment(job, segments.full_s, rate_per_s).times(segments.count - 1)
    return full + _expected_segment(job, segments.last_s, rate_per_s)


def _expected_option(job: TrainingJob, settings: TrainingSettings) -> TrainingOption:
    """The on-demand or spot option with Daly's expected values (no Monte Carlo)."""
    segments = _segments(job, settings.checkpoint_interval_s)
    writes = f"{segments.count - 1:,} checkpoint writes"
    if settings.pricing == "on-demand":
        wall_s = segments.wall_s
        expected = _Expected(wall_s, 0.0, 0.0, job.nodes * wall_s)
        price, on_demand_node_s = settings.on_demand_usd_per_node_hour, expected.node_s
        method = f"on-demand: no interruptions; work + {writes}, all nodes billed throughout"
    else:
        expected = _expected_spot(job, settings)
        price, on_demand_node_s = settings.spot_usd_per_node_hour, 0.0
        rate = settings.interruptions_per_node_hour * job.nodes
        method = (
            f"Daly (2006) expected wall time, Poisson interruptions at {rate:.3g}/h on "
            f"{job.nodes} nodes, checkpoint every {settings.checkpoint_interval_s:,.0f} s "
            f"({writes}); replacement delay billed on n-1 nodes"
        )
    deadline_s = _deadline_s(job)
    meets = None if deadline_s is None else float(expected.wall_s <= deadline_s)
    return TrainingOption(
        settings=settings,
        expected_wall_hours=expected.wall_s / _SECONDS_PER_HOUR,
        expected_lost_work_hours=expected.lost_s / _SECONDS_PER_HOUR,
        expected_interruptions=expected.interruptions,
        expected_node_hours=expected.node_s / _SECONDS_PER_HOUR,
        expected_on_demand_node_hours=on_demand_node_s / _SECONDS_PER_HOUR,
        expected_cost_usd=price * expected.node_s / _SECONDS_PER_HOUR,
        probability_meets_deadline=meets,
        fallback_probability=None,
        method=method,
    )


def _simulated_option(sim: TrainingSimulation) -> TrainingOption:
    """The option whose expected values are the Monte Carlo means of ``sim``."""
    return TrainingOption(
        settings=sim.settings,
        expected_wall_hours=sim.wall_hours_mean,
        expected_lost_work_hours=sim.lost_work_hours_mean,
        expected_interruptions=sim.interruptions_mean,
        expected_node_hours=sim.spot_node_hours_mean + sim.on_demand_node_hours_mean,
        expected_on_demand_node_hours=sim.on_demand_node_hours_mean,
        expected_cost_usd=sim.cost_usd_mean,
        probability_meets_deadline=sim.probability_meets_deadline,
        fallback_probability=sim.fallback_probability,
        method=(
            f"Monte Carlo, {sim.runs:,} runs, seed {sim.seed}: spot until the slack only covers "
            "a restore plus the rest on on-demand, then on-demand"
        ),
    )


# -- Monte Carlo ------------------------------------------------------------------------------


class _Simulation:
    """Every run's state, advanced one event per run at a time, vectorized over the runs."""

    def __init__(self, job: TrainingJob, settings: TrainingSettings, *, runs: int, seed: int):
        import numpy as np

        self.job, self.settings, self.runs, self.seed = job, settings, runs, seed
        self.rng = np.random.default_rng(seed)
        self.segments = _segments(job, settings.checkpoint_interval_s)
        self.rate_per_s = settings.interruptions_per_node_hour * job.nodes / _SECONDS_PER_HOUR
        deadline_s = _deadline_s(job)
        self.is_fallback = settings.pricing == "spot-with-fallback"
        self.deadline_s = math.inf if deadline_s is None else deadline_s
        self.t = np.zeros(runs)
        self.index: Ints = np.zeros(runs, dtype=np.int64)  # segments committed
        self.lost_s = np.zeros(runs)
        self.spot_node_s = np.zeros(runs)
        self.on_demand_node_s = np.zeros(runs)
        self.interruptions: Ints = np.zeros(runs, dtype=np.int64)
        self.switched = np.zeros(runs, dtype=bool)

    def summary(self) -> TrainingSimulation:
        """Run every simulated job to its end and summarise them."""
        import numpy as np

        self._run()
        hours = self.t / _SECONDS_PER_HOUR
        spot_h = self.spot_node_s / _SECONDS_PER_HOUR
        on_demand_h = self.on_demand_node_s / _SECONDS_PER_HOUR
        settings = self.settings
        cost = (
            settings.spot_usd_per_node_hour * spot_h
            + settings.on_demand_usd_per_node_hour * on_demand_h
        )
        stderr = float(hours.std(ddof=1)) / math.sqrt(self.runs) if self.runs > 1 else 0.0
        meets = None
        if math.isfinite(self.deadline_s):
            meets = float(np.mean(self.t <= self.deadline_s * (1 + 1e-12) + 1e-6))
        return TrainingSimulation(
            settings=settings,
            runs=self.runs,
            seed=self.seed,
            wall_hours_mean=float(hours.mean()),
            wall_hours_stderr=stderr,
            wall_hours_p50=float(np.quantile(hours, 0.5)),
            wall_hours_p95=float(np.quantile(hours, 0.95)),
            lost_work_hours_mean=float(self.lost_s.mean()) / _SECONDS_PER_HOUR,
            interruptions_mean=float(self.interruptions.mean()),
            spot_node_hours_mean=float(spot_h.mean()),
            on_demand_node_hours_mean=float(on_demand_h.mean()),
            cost_usd_mean=float(cost.mean()),
            probability_meets_deadline=meets,
            fallback_probability=float(self.switched.mean()) if self.is_fallback else None,
        )

    def _run(self) -> None:
        import numpy as np

        everyone = np.arange(self.runs)
        if self.settings.pricing == "on-demand":
            self.t[:] = self.segments.wall_s
            self.on_demand_node_s[:] = self.job.nodes * self.t
            return
        if self.is_fallback and self.deadline_s - self.job.restore_s < self.segments.work_s:
            self.t[:] = self.segments.work_s  # on-demand from the start: no restore, no writes
            self.on_demand_node_s[:] = self.job.nodes * self.t
            self.switched[:] = True
            return
        computing, recovering = everyone, np.empty(0, dtype=np.int64)
        while computing.size or recovering.size:
            still_computing, now_recovering = self._compute(computing)
            still_recovering, now_computing = self._recover(recovering)
            computing = np.concatenate([still_computing, now_computing])
            recovering = np.concatenate([still_recovering, now_recovering])

    def _draw(self, size: int) -> Floats:
        """Seconds to the next interruption of the job (any node: rate nodes * r)."""
        import numpy as np

        if self.rate_per_s == 0:
            return np.full(size, np.inf)
        return self.rng.exponential(1.0 / self.rate_per_s, size)

    def _work_left_s(self, ids: Ints) -> Floats:
        """Compute seconds from each run's last checkpoint to the end."""
        seg = self.segments
        return (seg.count - 1 - self.index[ids]) * seg.interval_s + seg.last_s

    def _slack_s(self, ids: Ints) -> Floats:
        """Seconds each run may still spend before it must switch (inf without fallback)."""
        import numpy as np

        if not self.is_fallback:
            return np.full(ids.size, np.inf)
        return self.deadline_s - self.job.restore_s - self._work_left_s(ids) - self.t[ids]

    def _spend(self, ids: Ints, seconds: Floats, *, nodes: float | Floats) -> None:
        self.t[ids] += seconds
        self.spot_node_s[ids] += nodes * seconds

    def _switch(self, ids: Ints) -> None:
        """Finish ``ids`` on on-demand: restore, then the work left, without checkpoints."""
        seconds = self.job.restore_s + self._work_left_s(ids)
        self.t[ids] += seconds
        self.on_demand_node_s[ids] += self.job.nodes * seconds
        self.switched[ids] = True

    def _compute(self, ids: Ints) -> tuple[Ints, Ints]:
        """One compute event per run: segments done, then an interruption, switch or the end.

        Returns the runs still computing and the runs now recovering.
        """
        import numpy as np

        seg, n = self.segments, self.job.nodes
        x = self._draw(ids.size)
        if seg.count > 1:
            # Memoryless: jump over the whole segments done before the interruption. Each
            # one costs the slack its write (clock +T+C, work left -T): the m-th next one
            # (from 0) completes only while T + C <= slack - m*C.
            full_left = seg.count - 1 - self.index[ids]
            slack = self._slack_s(ids)
            # np.floor(a / b), not a // b: inf // b is NaN.
            fitting = np.where(
                slack >= seg.full_s, np.floor((slack - seg.full_s) / seg.write_s) + 1, 0
            )
            skip = np.minimum(np.minimum(np.floor(x / seg.full_s), full_left), fitting)
            skip = skip.astype(np.int64)
            self._spend(ids, skip * seg.full_s, nodes=n)
            self.index[ids] += skip
            x = np.maximum(x - skip * seg.full_s, 0.0)
        slack = self._slack_s(ids)
        is_last = self.index[ids] == seg.count - 1
        length = np.where(is_last, seg.last_s, seg.full_s)
        done = (length <= x) & (length <= slack)
        hit = ~done & (x < slack)
        switch = ~done & ~hit
        self._spend(ids[done], length[done], nodes=n)
        self.index[ids[done]] += 1
        self._spend(ids[hit], x[hit], nodes=n)
        self.lost_s[ids[hit]] += x[hit]
        self.interruptions[ids[hit]] += 1
        abandoned = np.maximum(slack[switch], 0.0)
        self._spend(ids[switch], abandoned, nodes=n)
        self.lost_s[ids[switch]] += abandoned
        self._switch(ids[switch])
        return ids[done & ~is_last], ids[hit]

    def _recover(self, ids: Ints) -> tuple[Ints, Ints]:
        """One recovery per run: wait D on n-1 billed nodes, restore R exposed to interruptions.

        Returns the runs still recovering and the runs back to computing.
        """
        import numpy as np

        n, delay_s, restore_s = self.job.nodes, self.job.replacement_delay_s, self.job.restore_s
        y = self._draw(ids.size)
        slack = self._slack_s(ids)
        restored = y >= restore_s
        took = np.where(restored, restore_s, y)
        switch = slack < delay_s + took
        hit = ~switch & ~restored
        back = ~switch & restored
        waited = np.maximum(slack[switch], 0.0)
        self._spend(ids[switch], np.minimum(waited, delay_s), nodes=n - 1)
        self._spend(ids[switch], np.maximum(waited - delay_s, 0.0), nodes=n)
        self._switch(ids[switch])
        for group in (hit, back):
            self._spend(ids[group], np.full(int(group.sum()), delay_s), nodes=n - 1)
            self._spend(ids[group], took[group], nodes=n)
        self.interruptions[ids[hit]] += 1
        return ids[hit], ids[back]


# -- checks -----------------------------------------------------------------------------------


_HINTS: Final[dict[str, str]] = {
    "work_hours": "give the job's wall time on its nodes when nothing interrupts it",
    "checkpoint_write_s": "give the seconds one checkpoint write takes",
    "restore_s": "give the seconds to load the last checkpoint and restart (0 if instant)",
    "replacement_delay_s": "give the seconds to get a new spot node (0 if instant)",
    "deadline_hours": "give the hours from the start, or leave the deadline out",
    "interruptions_per_node_hour": "take it from interruptions_per_hour(bucket), 0 for none",
    "on_demand_usd_per_node_hour": "give the on-demand price of one node",
    "spot_usd_per_node_hour": "give the spot price of one node",
}


def _check(name: str, value: float, *, allow_zero: bool = False) -> None:
    """Raise UsageError unless ``value`` is a finite number above 0 (or 0, with allow_zero)."""
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if is_number and math.isfinite(value) and (value > 0 or (allow_zero and value == 0)):
        return
    bound = "0 or more" if allow_zero else "above 0"
    raise UsageError(f"{name} must be a finite number {bound}, got {value!r}; {_HINTS[name]}")


def _check_runs(runs: int, seed: int) -> None:
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise UsageError(f"runs must be a whole number, 1 or more, got {runs!r}; try 20000")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise UsageError(f"seed must be a whole number, 0 or more, got {seed!r}")


def _job_mtbi_s(job: TrainingJob, interruptions_per_node_hour: float) -> float:
    """The job's mean time between interruptions: any of its nodes, 1/(n*r) (inf for r = 0)."""
    _check("interruptions_per_node_hour", interruptions_per_node_hour, allow_zero=True)
    if interruptions_per_node_hour == 0:
        return math.inf
    return _SECONDS_PER_HOUR / (job.nodes * interruptions_per_node_hour)


def _deadline_s(job: TrainingJob) -> float | None:
    return None if job.deadline_hours is None else job.deadline_hours * _SECONDS_PER_HOUR
