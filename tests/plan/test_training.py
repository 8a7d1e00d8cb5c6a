from __future__ import annotations

import itertools
import math
from typing import Any

import pytest

from mlcost.core import UsageError
from mlcost.cost import interruptions_per_hour, young_daly_interval_s
from mlcost.plan._training import (
    TrainingJob,
    TrainingOption,
    TrainingSettings,
    plan_training,
    simulate_training,
)

ON_DEMAND_USD = 3.0
SPOT_USD = 1.0
# A job on spot capacity that is reclaimed every 2 h on average (8 nodes x 1/16 per node-hour):
# lost work, restores and replacement delays are a third of its runtime, so formula errors show.
STRESSED = TrainingJob(
    work_hours=24.0, nodes=8, checkpoint_write_s=120.0, restore_s=300.0, replacement_delay_s=600.0
)
STRESSED_RATE = 1 / 16


def plan(job: TrainingJob, rate: float, **kwargs: Any) -> dict[str, TrainingOption]:
    options = plan_training(
        job,
        on_demand_usd_per_node_hour=ON_DEMAND_USD,
        spot_usd_per_node_hour=SPOT_USD,
        interruptions_per_node_hour=rate,
        **kwargs,
    )
    return {option.pricing: option for option in options}


def with_deadline(job: TrainingJob, deadline_hours: float) -> TrainingJob:
    return TrainingJob(
        work_hours=job.work_hours,
        nodes=job.nodes,
        checkpoint_write_s=job.checkpoint_write_s,
        restore_s=job.restore_s,
        replacement_delay_s=job.replacement_delay_s,
        deadline_hours=deadline_hours,
    )


# -- no interruptions ------------------------------------------------------------------------


def test_without_interruptions_spot_runtime_is_the_work_plus_the_checkpoint_writes() -> None:
    job = TrainingJob(
        work_hours=10.0, nodes=4, checkpoint_write_s=60.0, restore_s=90.0, replacement_delay_s=300.0
    )
    spot = plan(job, 0.0, checkpoint_interval_s=3600.0)["spot"]
    # 10 h in 1 h segments: a checkpoint after each of the first 9, none where the job ends.
    wall_hours = (10 * 3600 + 9 * 60) / 3600
    assert spot.expected_wall_hours == pytest.approx(wall_hours, rel=1e-12)
    assert spot.expected_node_hours == pytest.approx(4 * wall_hours, rel=1e-12)
    assert spot.expected_cost_usd == pytest.approx(SPOT_USD * 4 * wall_hours, rel=1e-12)
    assert spot.expected_interruptions == spot.expected_lost_work_hours == 0.0
    sim = simulate_training(job, spot, runs=200, seed=0)
    assert sim.wall_hours_mean == pytest.approx(wall_hours, rel=1e-12)
    assert sim.wall_hours_stderr < 1e-12
    assert sim.cost_usd_mean == pytest.approx(SPOT_USD * 4 * wall_hours, rel=1e-12)


def test_without_interruptions_young_daly_writes_no_checkpoint() -> None:
    job = TrainingJob(
        work_hours=10.0, nodes=4, checkpoint_write_s=60.0, restore_s=90.0, replacement_delay_s=300.0
    )
    options = plan(job, 0.0)
    assert options["spot"].checkpoint_interval_s == math.inf
    assert options["spot"].expected_wall_hours == 10.0
    assert options["on-demand"].expected_cost_usd == ON_DEMAND_USD * 4 * 10.0


# -- the formula -----------------------------------------------------------------------------


def test_expected_values_of_one_segment_match_the_formula_worked_by_hand() -> None:
    # 1 h of work, never checkpointed, 2 nodes at 0.25/node-hour: M = 7200 s, L = 3600 s,
    # R = 360 s, D = 720 s. e^(L/M) - 1 = 0.648721, e^(R/M) = 1.051271;
    # rho = 1.051271 * 720 + 7200 * 0.051271 = 756.915 + 369.152 = 1126.067 s;
    # wall = (7200 + 1126.067) * 0.648721 = 5401.30 s; lost = 7200 * 0.648721 - 3600 = 1070.79 s;
    # interruptions = 0.648721 * 1.051271 = 0.68198; node-s = 2 * 5401.30 - 720 * 0.68198 = 10311.57.
    job = TrainingJob(
        work_hours=1.0, nodes=2, checkpoint_write_s=30.0, restore_s=360.0, replacement_delay_s=720.0
    )
    spot = plan(job, 0.25, checkpoint_interval_s=math.inf)["spot"]
    assert spot.expected_wall_hours * 3600 == pytest.approx(5401.30, abs=0.01)
    assert spot.expected_lost_work_hours * 3600 == pytest.approx(1070.79, abs=0.01)
    assert spot.expected_interruptions == pytest.approx(0.68198, abs=1e-5)
    assert spot.expected_node_hours * 3600 == pytest.approx(10311.57, abs=0.01)
    sim = simulate_training(job, spot, runs=20_000, seed=3)
    assert abs(sim.wall_hours_mean - spot.expected_wall_hours) < 5 * sim.wall_hours_stderr


def test_formula_is_within_2_percent_of_the_monte_carlo_over_the_grid() -> None:
    misses = []
    grid = itertools.product((1, 4, 16), ("<5%", "5-10%", ">20%"), (10, 60, 300), (2, 24, 200))
    for nodes, bucket, write_s, work_hours in grid:
        job = TrainingJob(
            work_hours=work_hours,
            nodes=nodes,
            checkpoint_write_s=write_s,
            restore_s=120.0,
            replacement_delay_s=300.0,
        )
        spot = plan(job, interruptions_per_hour(bucket))["spot"]
        sim = simulate_training(job, spot, runs=20_000, seed=0)
        error = abs(sim.wall_hours_mean - spot.expected_wall_hours)
        # The brief's 2 %, and the sharper test the runs allow: 5 standard errors (or 0.05 %
        # where the runs saw too few interruptions to estimate one).
        allowed = min(0.02, max(5 * sim.wall_hours_stderr / spot.expected_wall_hours, 5e-4))
        if error > allowed * spot.expected_wall_hours:
            misses.append((nodes, bucket, write_s, work_hours, spot.expected_wall_hours, sim))
    assert not misses


def test_formula_matches_the_monte_carlo_where_interruptions_dominate() -> None:
    spot = plan(STRESSED, STRESSED_RATE)["spot"]
    assert spot.expected_wall_hours > 1.3 * STRESSED.work_hours  # the regime the test is for
    sim = simulate_training(STRESSED, spot, runs=20_000, seed=0)
    assert abs(sim.wall_hours_mean - spot.expected_wall_hours) < 5 * sim.wall_hours_stderr
    assert sim.interruptions_mean == pytest.approx(spot.expected_interruptions, rel=0.01)
    assert sim.lost_work_hours_mean == pytest.approx(spot.expected_lost_work_hours, rel=0.015)
    assert sim.spot_node_hours_mean == pytest.approx(spot.expected_node_hours, rel=0.005)
    assert sim.cost_usd_mean == pytest.approx(spot.expected_cost_usd, rel=0.005)


def test_more_nodes_are_interrupted_more_often() -> None:
    rate = interruptions_per_hour(">20%")
    spots = []
    for nodes in (1, 4, 16):
        job = TrainingJob(
            work_hours=24.0,
            nodes=nodes,
            checkpoint_write_s=60.0,
            restore_s=120.0,
            replacement_delay_s=300.0,
        )
        spots.append(plan(job, rate)["spot"])
    interruptions = [spot.expected_interruptions for spot in spots]
    assert interruptions == sorted(interruptions) and len(set(interruptions)) == 3
    assert interruptions[2] > 10 * interruptions[0]
    intervals = [spot.checkpoint_interval_s for spot in spots]
    assert intervals == sorted(intervals, reverse=True)


def test_spot_checkpoints_at_the_young_daly_interval_for_the_jobs_mtbi() -> None:
    options = plan(STRESSED, STRESSED_RATE)
    mtbi_s = 3600 / (STRESSED.nodes * STRESSED_RATE)
    assert options["spot"].checkpoint_interval_s == young_daly_interval_s(120.0, mtbi_s)
    assert options["on-demand"].checkpoint_interval_s == math.inf


def test_the_young_daly_interval_beats_a_quarter_and_four_times_it() -> None:
    spot = plan(STRESSED, STRESSED_RATE)["spot"]
    chosen = simulate_training(STRESSED, spot, runs=5_000, seed=1).wall_hours_mean
    for factor in (0.25, 4.0):
        other = TrainingSettings(
            "spot", factor * spot.checkpoint_interval_s, STRESSED_RATE, ON_DEMAND_USD, SPOT_USD
        )
        assert simulate_training(STRESSED, other, runs=5_000, seed=1).wall_hours_mean > chosen


# -- deadlines -------------------------------------------------------------------------------


def test_a_deadline_spot_often_misses_gets_a_fallback_that_meets_it() -> None:
    options = plan(with_deadline(STRESSED, 30.0), STRESSED_RATE, runs=5_000)
    spot, fallback = options["spot"], options["spot-with-fallback"]
    assert spot.probability_meets_deadline is not None
    assert spot.probability_meets_deadline < 0.2
    assert fallback.probability_meets_deadline == 1.0
    assert fallback.fallback_probability is not None and fallback.fallback_probability > 0.5
    assert fallback.expected_wall_hours <= 30.0
    assert spot.expected_cost_usd < fallback.expected_cost_usd
    assert fallback.expected_cost_usd < options["on-demand"].expected_cost_usd
    assert 0 < fallback.expected_on_demand_node_hours < fallback.expected_node_hours


def test_a_generous_deadline_rarely_needs_the_fallback() -> None:
    options = plan(with_deadline(STRESSED, 48.0), STRESSED_RATE, runs=5_000)
    fallback = options["spot-with-fallback"]
    assert fallback.fallback_probability is not None and fallback.fallback_probability < 0.01
    assert fallback.expected_cost_usd == pytest.approx(options["spot"].expected_cost_usd, rel=0.02)


def test_without_interruptions_and_with_slack_the_fallback_is_plain_spot() -> None:
    options = plan(with_deadline(STRESSED, 30.0), 0.0, checkpoint_interval_s=3600.0, runs=200)
    fallback, spot = options["spot-with-fallback"], options["spot"]
    assert fallback.fallback_probability == 0.0
    assert fallback.expected_wall_hours == pytest.approx(spot.expected_wall_hours, rel=1e-12)
    assert fallback.expected_cost_usd == pytest.approx(spot.expected_cost_usd, rel=1e-12)


def test_a_deadline_without_slack_for_a_restore_runs_on_demand_from_the_start() -> None:
    deadline_hours = STRESSED.work_hours + STRESSED.restore_s / 2 / 3600
    options = plan(with_deadline(STRESSED, deadline_hours), STRESSED_RATE, runs=500)
    fallback = options["spot-with-fallback"]
    assert fallback.fallback_probability == 1.0
    assert fallback.probability_meets_deadline == 1.0
    assert fallback.expected_cost_usd == pytest.approx(options["on-demand"].expected_cost_usd)


def test_an_impossible_deadline_is_never_met() -> None:
    options = plan(with_deadline(STRESSED, 20.0), STRESSED_RATE, runs=500)
    assert {o.pricing: o.probability_meets_deadline for o in options.values()} == {
        "on-demand": 0.0,
        "spot": 0.0,
        "spot-with-fallback": 0.0,
    }


def test_without_a_deadline_there_is_no_fallback_and_no_probability() -> None:
    options = plan(STRESSED, STRESSED_RATE)
    assert list(options) == ["on-demand", "spot"]
    assert all(o.probability_meets_deadline is None for o in options.values())
    assert all(o.basis == "estimated" and "\n" not in o.method for o in options.values())


def test_the_monte_carlo_is_reproducible_from_its_seed() -> None:
    spot = plan(STRESSED, STRESSED_RATE)["spot"]
    first = simulate_training(STRESSED, spot, runs=1_000, seed=7)
    assert simulate_training(STRESSED, spot, runs=1_000, seed=7) == first
    assert simulate_training(STRESSED, spot, runs=1_000, seed=8) != first


# -- bad input -------------------------------------------------------------------------------

GOOD_JOB: dict[str, Any] = {
    "work_hours": 10.0,
    "nodes": 4,
    "checkpoint_write_s": 60.0,
    "restore_s": 90.0,
    "replacement_delay_s": 300.0,
}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("work_hours", -1.0),
        ("work_hours", 0.0),
        ("work_hours", math.nan),
        ("nodes", 0),
        ("nodes", 2.5),
        ("checkpoint_write_s", 0.0),
        ("restore_s", -5.0),
        ("replacement_delay_s", math.inf),
        ("deadline_hours", -2.0),
    ],
)
def test_a_bad_job_raises_a_one_line_usage_error_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(UsageError, match=field) as raised:
        TrainingJob(**(GOOD_JOB | {field: value}))
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"spot_usd_per_node_hour": -1.0}, "spot_usd_per_node_hour"),
        ({"on_demand_usd_per_node_hour": math.nan}, "on_demand_usd_per_node_hour"),
        ({"interruptions_per_node_hour": -0.1}, "interruptions_per_node_hour"),
        ({"checkpoint_interval_s": 0.0}, "checkpoint_interval_s"),
        ({"runs": 0}, "runs"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_plan_arguments_raise_a_one_line_usage_error(
    kwargs: dict[str, Any], named: str
) -> None:
    arguments: dict[str, Any] = {
        "on_demand_usd_per_node_hour": ON_DEMAND_USD,
        "spot_usd_per_node_hour": SPOT_USD,
        "interruptions_per_node_hour": 0.01,
    }
    with pytest.raises(UsageError, match=named) as raised:
        plan_training(TrainingJob(**GOOD_JOB), **(arguments | kwargs))
    assert "\n" not in str(raised.value)


def test_a_fallback_without_a_deadline_is_refused() -> None:
    settings = TrainingSettings("spot-with-fallback", 3600.0, 0.01, ON_DEMAND_USD, SPOT_USD)
    with pytest.raises(UsageError, match="deadline_hours"):
        simulate_training(TrainingJob(**GOOD_JOB), settings, runs=10, seed=0)


def test_a_rate_too_high_to_simulate_is_refused_not_hung() -> None:
    settings = TrainingSettings("spot", 3600.0, 1_000.0, ON_DEMAND_USD, SPOT_USD)
    with pytest.raises(UsageError, match="interruptions_per_node_hour"):
        simulate_training(TrainingJob(**GOOD_JOB), settings, runs=10, seed=0)
