"""Training plans: the interval the train engine would use, the Monte Carlo agreeing with the
expected values, the recommendation rule, and one-line errors for what the catalog lacks."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from mlcost.catalog import Catalog, load_catalog
from mlcost.core import PlanError, TrainingWorkload
from mlcost.cost import young_daly_interval_s
from mlcost.plan import TrainingOption, TrainingPricing, TrainingSettings
from mlcost.plan._training_plan import plan_training_workload, recommend
from mlcost.plan._workload import load_training_workload

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "training.yaml"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def _workload(**training: object) -> TrainingWorkload:
    spec = {
        "provider": "aws",
        "region": "us-east-1",
        "instance_type": "g5.xlarge",
        "nodes": 2,
        "work_gpu_hours": 40,
        "checkpoint_write_s": 60,
        "restore_s": 90,
        "deadline_hours": 30,
    }
    spec.update(training)
    return TrainingWorkload.model_validate({"name": "t", "training": spec})


def test_the_example_recommends_spot_with_fallback_and_monte_carlo_agrees(
    catalog: Catalog,
) -> None:
    plan = plan_training_workload(load_training_workload(EXAMPLE), catalog)
    assert [option.pricing for option in plan.options] == [
        "on-demand",
        "spot",
        "spot-with-fallback",
    ]
    for check in plan.checks:
        assert abs(check.wall_hours_gap_fraction) < 0.02, check
    spot = plan.options[1]
    assert spot.expected_cost_usd < 0.5 * plan.options[0].expected_cost_usd
    assert plan.recommended.pricing == "spot-with-fallback"
    assert "cheapest way to meet the 30 h deadline" in plan.recommendation_reason
    assert plan.check_for("spot").simulation.seed == 1  # not the planner's own seed


def test_the_planner_uses_the_engine_interval_with_its_30_minute_cap(catalog: Catalog) -> None:
    plan = plan_training_workload(load_training_workload(EXAMPLE), catalog, runs=500)
    uncapped_s = young_daly_interval_s(60, 3600 / (2 * plan.interruptions_per_node_hour))
    assert uncapped_s > 1800  # a rare interruption: Young/Daly alone would say hours
    assert [option.checkpoint_interval_s for option in plan.options] == [1800.0] * 3
    assert "capped at 1,800 s" in plan.options[1].method
    assert f"uncapped Young/Daly {uncapped_s:,.0f} s" in plan.checkpoint_interval_source


def test_below_the_cap_spot_checkpoints_at_young_daly_and_on_demand_at_the_cap(
    catalog: Catalog,
) -> None:
    workload = _workload(nodes=8, interruptions_per_node_hour=0.05, deadline_hours=None)
    plan = plan_training_workload(workload, catalog, runs=500)
    on_demand, spot = plan.options  # no deadline: no fallback
    assert spot.checkpoint_interval_s == pytest.approx(young_daly_interval_s(60, 3600 / 0.4))
    assert spot.checkpoint_interval_s < 1800
    assert on_demand.checkpoint_interval_s == 1800
    assert on_demand.probability_meets_deadline is None


def test_a_forced_interval_applies_to_every_option(catalog: Catalog) -> None:
    plan = plan_training_workload(_workload(checkpoint_interval_min=10), catalog, runs=500)
    assert {option.checkpoint_interval_s for option in plan.options} == {600.0}
    assert all("checkpoint_interval_min" in option.method for option in plan.options)


def test_monte_carlo_agrees_within_2_percent_when_interruptions_are_frequent(
    catalog: Catalog,
) -> None:
    workload = _workload(
        instance_type="g5.12xlarge",
        nodes=8,
        work_gpu_hours=None,
        work_hours=24,
        checkpoint_write_s=120,
        restore_s=300,
        interruptions_per_node_hour=0.02,
    )
    plan = plan_training_workload(workload, catalog)
    spot = plan.check_for("spot")
    assert spot.simulation.interruptions_mean > 3  # the check is not vacuous
    for check in plan.checks:
        assert abs(check.wall_hours_gap_fraction) < 0.02, check


def test_an_impossible_deadline_says_so_and_picks_the_most_likely(catalog: Catalog) -> None:
    plan = plan_training_workload(_workload(deadline_hours=15), catalog, runs=500)
    assert all(option.probability_meets_deadline == 0 for option in plan.options)
    fastest = min(plan.options, key=lambda option: option.expected_wall_hours)
    assert plan.recommended is fastest
    # Fallback with no slack at all runs on-demand from the start, without checkpoints.
    assert (fastest.pricing, fastest.expected_wall_hours) == ("spot-with-fallback", 20.0)
    assert plan.recommendation_reason.startswith("no option meets the 15 h deadline")
    assert plan.recommendation_reason.endswith("relax deadline_hours or add nodes")


def _option(pricing: TrainingPricing, cost_usd: float, meets: float | None) -> TrainingOption:
    settings = TrainingSettings(pricing, 1800.0, 0.001, 1.0, 0.4)
    return TrainingOption(
        settings=settings,
        expected_wall_hours=10.0,
        expected_lost_work_hours=0.0,
        expected_interruptions=0.0,
        expected_node_hours=10.0,
        expected_on_demand_node_hours=0.0,
        expected_cost_usd=cost_usd,
        probability_meets_deadline=meets,
        fallback_probability=None,
        method="test",
    )


def test_without_a_deadline_the_cheapest_wins() -> None:
    options = (_option("on-demand", 100, None), _option("spot", 40, None))
    best, reason = recommend(options, None)
    assert best.pricing == "spot"
    assert (
        reason
        == "spot is the cheapest: $40.00 expected, 60% below on-demand ($100.00); no deadline"
    )


def test_with_a_deadline_a_cheap_option_that_often_misses_it_loses() -> None:
    options = (
        _option("on-demand", 100, 1.0),
        _option("spot", 40, 0.90),
        _option("spot-with-fallback", 55, 1.0),
    )
    best, reason = recommend(options, 20)
    assert best.pricing == "spot-with-fallback"
    assert "P = 1.000" in reason
    best, _ = recommend(options[:2], 20)
    assert best.pricing == "on-demand"


def test_a_near_tie_goes_to_the_option_more_likely_to_meet_the_deadline() -> None:
    options = (
        _option("on-demand", 100, 1.0),
        _option("spot", 40.0, 0.96),
        _option("spot-with-fallback", 40.3, 1.0),
    )
    best, reason = recommend(options, 20)
    assert best.pricing == "spot-with-fallback"
    assert "within 1% of spot ($40.00, P = 0.960)" in reason
    far = (*options[:2], _option("spot-with-fallback", 45, 1.0))
    assert recommend(far, 20)[0].pricing == "spot"


def test_an_instance_missing_from_the_region_is_one_line(catalog: Catalog) -> None:
    with pytest.raises(PlanError) as info:
        plan_training_workload(_workload(region="mars-1"), catalog)
    assert str(info.value) == (
        "g5.xlarge is not in the catalog for aws mars-1; check "
        "`mlcost catalog list --region mars-1` or import a price file with it"
    )


def _catalog_with(catalog: Catalog, **changes: Any) -> Catalog:
    offer = catalog.offer("g5.xlarge", region="us-east-1")
    assert offer is not None
    return dataclasses.replace(catalog, offers=(dataclasses.replace(offer, **changes),))


def test_an_instance_without_a_spot_price_is_one_line(catalog: Catalog) -> None:
    no_spot = _catalog_with(catalog, spot_usd_per_hour=None)
    with pytest.raises(PlanError, match=r"^g5.xlarge has no spot price in aws us-east-1, "):
        plan_training_workload(_workload(), no_spot)


def test_without_a_bucket_the_rate_must_be_given(catalog: Catalog) -> None:
    no_bucket = _catalog_with(catalog, interruption_bucket=None)
    with pytest.raises(PlanError, match=r"set training\.interruptions_per_node_hour"):
        plan_training_workload(_workload(), no_bucket)
    plan = plan_training_workload(_workload(interruptions_per_node_hour=0.001), no_bucket, runs=200)
    assert plan.interruptions_per_node_hour == 0.001


def test_a_job_too_interrupted_to_simulate_is_a_plan_error(catalog: Catalog) -> None:
    workload = _workload(interruptions_per_node_hour=50, work_gpu_hours=400)
    with pytest.raises(PlanError, match=r"^cannot plan training workload t: each spot run would"):
        plan_training_workload(workload, catalog, runs=10)
