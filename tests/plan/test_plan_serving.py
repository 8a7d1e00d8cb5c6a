"""The whole serving plan: search, winner, waterfall, runners-up, infeasible answers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mlcost.catalog import load_shipped
from mlcost.core import (
    Constraints,
    CurrentSetup,
    DataLocation,
    Hardware,
    Plan,
    PlanError,
    Profile,
    Slo,
    Traffic,
    Variant,
    Workload,
    from_jsonable,
    to_jsonable,
)
from mlcost.plan import SearchSettings, plan_serving

HERE = Hardware(
    cpu_model="AMD EPYC",
    machine="x86_64",
    cpu_flags=("avx2", "fma"),
    logical_cpus=2,
    physical_cores=2,
    threads_allowed=2,
    memory_gib=24.0,
)
CATALOG = load_shipped()


def variant(name: str, fmt: str, precision: str, size_mb: float, parent: str | None) -> Variant:
    return Variant(
        name=name,
        format=fmt,  # type: ignore[arg-type]
        precision=precision,  # type: ignore[arg-type]
        method=name,
        path=f"/nonexistent/{name}",
        size_bytes=int(size_mb * 1e6),
        parameter_count=22_700_000,
        parent=parent,
    )


def profile(name: str, p50: float, accuracy: float, memory_mib: float = 300.0) -> Profile:
    return Profile(
        variant=name,
        hardware=HERE,
        basis="measured",
        provider="CPUExecutionProvider",
        threads=2,
        latency_ms_p50=p50,
        latency_ms_p95=p50 * 1.4,
        latency_ms_p99=p50 * 1.7,
        latency_spread=0.03,
        latency_samples=600,
        tokens_mean=33.0,
        batch_size=1,
        throughput_per_s=1000.0 / p50,
        throughput_by_batch={1: 1000.0 / p50},
        accuracy=accuracy,
        accuracy_ci_low=accuracy - 0.014,
        accuracy_ci_high=accuracy + 0.014,
        agreement=0.98,
        mcnemar_p=0.5,
        test_samples=2314,
        peak_memory_mib=memory_mib,
        model_memory_mib=memory_mib / 3,
        load_s=0.5,
        size_bytes=23_000_000,
        versions={},
        measured_at=datetime(2026, 11, 28, tzinfo=UTC),
    )


VARIANTS = [
    variant("baseline", "torch", "fp32", 91.6, None),
    variant("int8-dynamic", "onnx", "int8", 23.7, "baseline"),
    variant("tiny-int8", "onnx", "int8", 9.0, "baseline"),
]
PROFILES = [
    profile("baseline", 25.9, 0.8686, memory_mib=925.0),
    profile("int8-dynamic", 6.9, 0.8686),
    profile("tiny-int8", 1.5, 0.80),  # far below the floor
]
REFERENCE = Workload(
    name="sentiment-api",
    traffic=Traffic(requests_per_day=1_000_000, daily_shape="consumer", payload_in_bytes=2000),
    slo=Slo(latency_ms=150, max_accuracy_drop_points=1.0),
    constraints=Constraints(providers=("aws",), regions=("us-east-1",), max_spot_share=1.0),
    data_location=DataLocation(provider="aws", region="us-east-1"),
    current=CurrentSetup(provider="aws", region="us-east-1", instance_type="g4dn.xlarge", count=5),
)
FAST = SearchSettings(exact_checks=4)


@pytest.fixture(scope="module")
def reference_plan() -> Plan:
    return plan_serving(
        REFERENCE, variants=VARIANTS, profiles=PROFILES, catalog=CATALOG, settings=FAST
    )


def test_the_winner_meets_the_slo_and_the_floor_and_beats_today(reference_plan: Plan) -> None:
    winner = reference_plan.winner
    assert winner.slo.is_met
    assert winner.slo.minutes == 30 * 1440
    assert winner.accuracy is not None and winner.accuracy >= reference_plan.accuracy_floor
    assert winner.variant != "tiny-int8"
    assert winner.monthly_usd < reference_plan.waterfall[0].monthly_usd
    assert winner.monthly_usd < 129.60


def test_a_variant_below_the_floor_is_left_out_with_the_reason(reference_plan: Plan) -> None:
    assert any(
        line.startswith("tiny-int8: accuracy 80.00% is below the floor")
        for line in reference_plan.excluded
    )


def test_the_waterfall_starts_at_today_and_falls_to_the_winner(reference_plan: Plan) -> None:
    bars = reference_plan.waterfall
    assert bars[0].monthly_usd == pytest.approx(0.526 * 5 * 730, rel=0.01)  # catalog price
    reached = [bar.monthly_usd for bar in bars[1:]]
    assert reached == sorted(reached, reverse=True)
    assert bars[-1].monthly_usd == pytest.approx(reference_plan.winner.monthly_usd)
    for bar in bars[1:]:
        assert bar.saved_usd >= -1e-9 or bar.option is not None


def test_every_runner_up_says_why_it_lost(reference_plan: Plan) -> None:
    assert reference_plan.runners_up
    for option in reference_plan.runners_up:
        assert option.why_not
        if option.slo.is_met:
            assert option.monthly_usd >= reference_plan.winner.monthly_usd - 1e-9


def test_the_pareto_front_holds_no_dominated_option(reference_plan: Plan) -> None:
    front = reference_plan.pareto
    assert front and front[0].monthly_usd == pytest.approx(reference_plan.winner.monthly_usd)
    for a in front:
        for b in front:
            if a is not b:
                assert not (
                    a.monthly_usd <= b.monthly_usd
                    and a.latency_ms_p99 <= b.latency_ms_p99
                    and (a.accuracy or 0) >= (b.accuracy or 0)
                    and (a.monthly_usd, a.latency_ms_p99, a.accuracy)
                    != (b.monthly_usd, b.latency_ms_p99, b.accuracy)
                )


def test_a_plan_resting_on_estimates_says_so_and_names_the_measurement(
    reference_plan: Plan,
) -> None:
    assert reference_plan.is_estimated
    assert reference_plan.winner.speed_basis == "estimated"
    assert reference_plan.winner.offer.instance_type in reference_plan.confirm_by


def test_the_plan_round_trips_through_json(reference_plan: Plan) -> None:
    assert from_jsonable(Plan, to_jsonable(reference_plan)) == reference_plan


def test_an_slo_no_replica_can_meet_names_latency_as_the_binding_constraint() -> None:
    tight = REFERENCE.model_copy(update={"slo": Slo(latency_ms=0.5)})
    with pytest.raises(PlanError, match=r"binding constraint.*(latency|longer than)") as info:
        plan_serving(tight, variants=VARIANTS, profiles=PROFILES, catalog=CATALOG, settings=FAST)
    assert "\n" not in str(info.value)
    assert "relax" in str(info.value) or "allow" in str(info.value)


def test_a_floor_above_every_variant_names_the_accuracy_floor() -> None:
    strict = REFERENCE.model_copy(update={"slo": Slo(latency_ms=150, accuracy_floor=0.95)})
    with pytest.raises(PlanError, match=r"binding constraint: the accuracy floor 95\.00%"):
        plan_serving(strict, variants=VARIANTS, profiles=PROFILES, catalog=CATALOG, settings=FAST)


def test_no_offer_in_the_allowed_regions_names_the_constraint() -> None:
    nowhere = REFERENCE.model_copy(
        update={"constraints": Constraints(providers=("aws",), regions=("mars-1",))}
    )
    with pytest.raises(PlanError, match="binding constraint: no catalog offer"):
        plan_serving(nowhere, variants=VARIANTS, profiles=PROFILES, catalog=CATALOG, settings=FAST)


def test_without_spot_allowed_no_candidate_uses_spot() -> None:
    on_demand = REFERENCE.model_copy(
        update={"constraints": Constraints(providers=("aws",), regions=("us-east-1",))}
    )
    plan = plan_serving(
        on_demand, variants=VARIANTS, profiles=PROFILES, catalog=CATALOG, settings=FAST
    )
    assert plan.winner.pricing == "on-demand"
    assert plan.winner.spot_node_share == 0.0
    assert all(o.pricing not in ("spot", "mixed") for o in plan.runners_up + plan.pareto)


def test_a_real_commitment_rate_is_searched_on_the_always_on_baseline() -> None:
    gcp = REFERENCE.model_copy(
        update={
            "constraints": Constraints(providers=("gcp",), accelerators=("cpu",)),
            "data_location": None,
            "current": None,
        }
    )
    plan = plan_serving(gcp, variants=VARIANTS, profiles=PROFILES, catalog=CATALOG, settings=FAST)
    assert plan.waterfall == ()
    savings = [o for o in (plan.winner, *plan.runners_up, *plan.pareto) if o.pricing == "savings"]
    for option in savings:
        assert option.commitment
        assert option.cost.commitment_usd_per_month > 0


def test_no_profiles_asks_for_a_measurement() -> None:
    with pytest.raises(PlanError, match="run mlcost compress"):
        plan_serving(REFERENCE, variants=VARIANTS, profiles=[], catalog=CATALOG)
