"""One attempt of a training run, with its cost and carbon recorded in the store."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from mlcost.core import Store, TrainRun
from mlcost.train._accounting import CarbonMeter, Footprint, MachinePrice
from mlcost.train._engine import Preempted
from mlcost.train._finetune import StepCallback, TrainConfig, TrainResult, run_training
from mlcost.train._preemption import PreemptionWatcher


@dataclass(frozen=True, slots=True)
class Attempt:
    """What this attempt did and what the whole run (every attempt so far) cost."""

    result: TrainResult | None
    preempted: Preempted | None
    run: TrainRun
    footprint: Footprint
    all_attempts: tuple[TrainRun, ...]

    @property
    def total_cost_usd(self) -> float | None:
        costs = [a.cost_usd for a in self.all_attempts]
        return None if any(c is None for c in costs) else sum(c for c in costs if c is not None)

    @property
    def total_wall_s(self) -> float:
        return sum(a.wall_s for a in self.all_attempts)

    @property
    def total_co2_kg(self) -> float | None:
        values = [a.co2_kg for a in self.all_attempts]
        return None if any(v is None for v in values) else sum(v for v in values if v is not None)


def train_and_record(
    config: TrainConfig,
    store: Store | None,
    *,
    machine: MachinePrice | None = None,
    country: str | None = None,
    cloud_notice: str | None = None,
    metadata_url: str | None = None,
    on_step: StepCallback | None = None,
    on_start: Callable[[], None] | None = None,
) -> Attempt:
    """Run (or resume) training under a preemption watcher and a carbon meter; record the attempt.

    Returns the attempt, preempted or completed. Errors other than a
    preemption are recorded as a failed attempt and re-raised. ``store`` None
    records nothing: under torchrun, rank 0 records the attempt for every rank.
    """
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    result: TrainResult | None = None
    preempted: Preempted | None = None
    status: str = "failed"
    resumed_from = 0
    final_step = 0
    watcher = PreemptionWatcher(cloud=cloud_notice, metadata_url=metadata_url)  # type: ignore[arg-type]
    meter = CarbonMeter(country=country, machine=machine)
    try:
        with watcher.start(), meter:
            if on_start is not None:
                on_start()
            result = run_training(config, on_step=on_step, watcher=watcher)
        status, resumed_from, final_step = "completed", result.resumed_from_step, result.steps
    except Preempted as exc:
        preempted, status = exc, "preempted"
        final_step = exc.checkpoint.step if exc.checkpoint is not None else 0
    finally:
        wall_s = time.perf_counter() - started
        run = TrainRun(
            run_dir=str(config.out_dir.resolve()),
            started_at=started_at,
            status=status,  # type: ignore[arg-type]
            wall_s=wall_s,
            resumed_from_step=resumed_from,
            final_step=final_step,
            instance_type=machine.instance_type if machine else None,
            region=machine.region if machine else None,
            pricing=machine.pricing if machine else None,
            usd_per_hour=machine.usd_per_hour if machine else None,
            cost_usd=machine.usd_per_hour * wall_s / 3600 if machine else None,
            energy_kwh=meter.footprint.energy_kwh,
            co2_kg=meter.footprint.co2_kg,
            accuracy_test=result.accuracy_test if result else None,
        )
        if store is not None:
            store.record_train_run(run)
    attempts = (run,) if store is None else tuple(store.train_runs(run.run_dir))
    return Attempt(result, preempted, run, meter.footprint, attempts)
