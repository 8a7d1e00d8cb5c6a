"""The whole serving plan: search, winner, waterfall, runners-up, infeasible answers."""

from __future__ import annotations

import dataclasses
import itertools
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from mlcost.catalog import load_shipped
from mlcost.core import (
    Constraints,
    CurrentSetup,
    DataLocation,
    Plan,
    PlanError,
    PlatformSettings,
    Profile,
    Slo,
    Traffic,
    Workload,
    from_jsonable,
    to_jsonable,
)
from mlcost.plan import SearchSettings, plan_serving
from mlcost.plan._search import Search, run_search

sys.path.insert(0, str(Path(__file__).resolve().parent))
from planning_inputs import PROFILES, VARIANTS

CATALOG = load_shipped()
REFERENCE = Workload(
    name="sentiment-api",
    traffic=Traffic(requests_per_day=1_000_000, daily_shape="consumer", payload_in_bytes=2000),
    slo=Slo(latency_ms=150, max_accuracy_drop_points=1.0),
    constraints=Constraints(providers=("aws",), regions=("us-east-1",), max_spot_share=1.0),
    data_location=DataLocation(provider="aws", region="us-east-1"),
    current=CurrentSetup(provider="aws", region="us-east-1", instance_type="g4dn.xlarge", count=5),
)
SETTINGS = SearchSettings()
MACHINES_ONLY = PlatformSettings(allowed=("kubernetes", "vm-group"))


@pytest.fixture(scope="module")
def reference_plan() -> Plan:
    return plan_serving(
        REFERENCE, variants=VARIANTS, profiles=PROFILES, catalog=CATALOG, settings=SETTINGS
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
    today = bars[0].cost
    assert today is not None
    # Today's machines at the catalog price, and its platform billed like every bar's.
    assert today.compute_usd_per_month == pytest.approx(0.526 * 5 * 730, rel=0.01)
    items = " ".join(line.item for line in today.lines)
    assert "EKS control plane" in items and "system pool" in items and "load balancer" in items
    assert bars[0].monthly_usd == pytest.approx(today.total_usd_per_month)
    assert today.platform_usd_per_month > 73.0
    reached = [bar.monthly_usd for bar in bars[1:]]
    assert reached == sorted(reached, reverse=True)
    assert bars[-1].monthly_usd == pytest.approx(reference_plan.winner.monthly_usd)
    for before, bar in itertools.pairwise(bars):
        assert bar.saved_usd == pytest.approx(before.monthly_usd - bar.monthly_usd)
        assert bar.saved_usd > 0  # no $0 steps
        assert bar.option is not None and bar.option.slo.is_met
        assert bar.cost is not None and bar.cost.platform_usd_per_month >= 0.0
    changes = [bar.label.split(":")[0] for bar in bars[1:]]
    known = {
        "autoscaling",
        "spot",
        "compression",
        "hardware change",
        "provider change",
        "platform change",
    }
    assert all(set(change.split(" + ")) <= known for change in changes)
    assert len(changes) == len(set(changes))  # each change once


def test_a_change_the_workload_forbids_is_left_out_of_the_waterfall_with_the_reason(
    reference_plan: Plan,
) -> None:
    assert any("no commitment bar" in line for line in reference_plan.excluded)
    assert all(o.pricing != "savings" for o in reference_plan.runners_up)


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
    assert reference_plan.confirm_by == reference_plan.winner.confirm_by
    if reference_plan.winner.platform == "serverless":  # a function is measured by deploying it
        assert "REPORT log lines" in reference_plan.confirm_by
    else:
        assert reference_plan.winner.offer.instance_type in reference_plan.confirm_by
    for option in reference_plan.platforms:  # every machine estimate names its machine
        if option.platform != "serverless" and option.speed_basis == "estimated":
            assert option.offer.instance_type in option.confirm_by


def test_the_plan_round_trips_through_json(reference_plan: Plan) -> None:
    assert from_jsonable(Plan, to_jsonable(reference_plan)) == reference_plan


def test_an_slo_no_replica_can_meet_names_latency_as_the_binding_constraint() -> None:
    tight = REFERENCE.model_copy(update={"slo": Slo(latency_ms=0.5)})
    with pytest.raises(
        PlanError, match=r"binding constraint: the latency SLO p99 <= 0.5 ms"
    ) as info:
        plan_serving(
            tight, variants=VARIANTS, profiles=PROFILES, catalog=CATALOG, settings=SETTINGS
        )
    assert "\n" not in str(info.value)
    assert "Neuron" not in str(info.value)  # the SLO binds, not a compiler it never needed
    assert "relax" in str(info.value) or "allow" in str(info.value)


def test_a_floor_above_every_variant_names_the_accuracy_floor() -> None:
    strict = REFERENCE.model_copy(update={"slo": Slo(latency_ms=150, accuracy_floor=0.95)})
    with pytest.raises(PlanError, match=r"binding constraint: the accuracy floor 95\.00%"):
        plan_serving(
            strict, variants=VARIANTS, profiles=PROFILES, catalog=CATALOG, settings=SETTINGS
        )


def test_no_offer_in_the_allowed_regions_names_the_constraint() -> None:
    nowhere = REFERENCE.model_copy(
        update={"constraints": Constraints(providers=("aws",), regions=("mars-1",))}
    )
    with pytest.raises(PlanError, match="binding constraint: no catalog offer"):
        plan_serving(
            nowhere, variants=VARIANTS, profiles=PROFILES, catalog=CATALOG, settings=SETTINGS
        )


def test_without_spot_allowed_no_candidate_uses_spot() -> None:
    on_demand = REFERENCE.model_copy(
        update={"constraints": Constraints(providers=("aws",), regions=("us-east-1",))}
    )
    plan = plan_serving(
        on_demand, variants=VARIANTS, profiles=PROFILES, catalog=CATALOG, settings=SETTINGS
    )
    assert plan.winner.pricing == "on-demand"
    assert plan.winner.spot_node_share == 0.0
    assert all(o.pricing not in ("spot", "mixed") for o in plan.runners_up + plan.pareto)


def test_a_real_commitment_rate_is_searched_only_for_the_terms_allowed() -> None:
    def gcp(terms: tuple[str, ...]) -> Workload:
        return REFERENCE.model_copy(
            update={
                "constraints": Constraints(
                    providers=("gcp",), accelerators=("cpu",), commitments=terms
                ),
                "data_location": None,
                "current": None,
            }
        )

    def search(terms: tuple[str, ...]) -> list[object]:
        found = run_search(
            gcp(terms),
            variants=VARIANTS,
            profiles={p.variant: [p] for p in PROFILES},
            catalog=CATALOG,
            baseline="baseline",
            settings=SETTINGS,
        )
        return [c for c in found.candidates if c.pricing == "savings"]

    assert search(()) == []  # a commitment binds the user: none unless asked for
    one_year = search(("1y",))
    assert one_year
    for candidate in one_year:
        assert candidate.commitment.endswith("1y")  # type: ignore[attr-defined]
        assert candidate.cost.commitment_usd_per_month > 0  # type: ignore[attr-defined]
    plan = plan_serving(
        gcp(("1y", "3y")), variants=VARIANTS, profiles=PROFILES, catalog=CATALOG, settings=SETTINGS
    )
    assert plan.waterfall == ()


def test_no_profiles_asks_for_a_measurement() -> None:
    with pytest.raises(PlanError, match="run mlcost compress"):
        plan_serving(REFERENCE, variants=VARIANTS, profiles=[], catalog=CATALOG)


def test_a_tail_too_heavy_to_fit_is_planned_slower_not_refused() -> None:
    noisy = [
        dataclasses.replace(p, latency_ms_p50=1.0, latency_ms_p95=20.0, latency_ms_p99=60.0)
        if p.variant == "int8-dynamic"
        else p
        for p in PROFILES
    ]
    by_variant = {p.variant: [p] for p in noisy}
    search = run_search(
        REFERENCE, variants=VARIANTS, profiles=by_variant, catalog=CATALOG, baseline="baseline"
    )
    speeds = [s for s in search.speeds if s.variant.name == "int8-dynamic"]
    assert speeds
    for speed in speeds:
        assert "too heavy a tail to model" in speed.replica.method
        assert speed.replica.latency_ms_p99 / speed.replica.latency_ms_p50 < 60  # p50 raised
    assert any(c.is_screened_in for c in search.candidates if c.speed in speeds)


def test_a_spot_fleet_that_reclaims_would_break_keeps_a_spare_node() -> None:
    # One replica, an hour to replace a reclaimed node, and no minute allowed over the SLO:
    # every reclaim is an outage unless spare spot nodes are kept; a reclaim takes a whole
    # pool (type x zone), so the spare covers the largest pool.
    single = REFERENCE.model_copy(
        update={
            "constraints": Constraints(
                providers=("aws",), regions=("us-east-1",), min_replicas=1, max_spot_share=1.0
            )
        }
    )
    search = run_search(
        single,
        variants=VARIANTS,
        profiles={p.variant: [p] for p in PROFILES},
        catalog=CATALOG,
        baseline="baseline",
        settings=SearchSettings(allowed_minute_share=0.0, node_provisioning_min=60),
    )
    spot = [c for c in search.candidates if c.pricing == "spot" and c.platform == "kubernetes"]
    reclaimed = [c for c in spot if c.run.interruptions > 0]
    assert reclaimed, "seed 0 reclaims at least one fleet"
    spared = [c for c in reclaimed if c.spare_nodes >= 1]
    assert spared, "a spare node absorbs the reclaims of at least one fleet"
    for candidate in reclaimed:
        # Spared and within the SLO, or no spare up to the fleet's peak helps (a pool goes
        # whole): then no spare is bought and the candidate is screened out.
        assert candidate.is_screened_in == (candidate.spare_nodes >= 1)
        spare_free = [
            c for c in spot if c.speed is candidate.speed and c.scaling == candidate.scaling
        ]
        assert spare_free == [candidate]
    assert all(c.spare_nodes == 0 for c in spot if c.run.interruptions == 0)


def test_profiles_of_an_earlier_build_are_not_planned_on() -> None:
    rebuilt = [dataclasses.replace(v, recipe={"key": "new"}) for v in VARIANTS]
    stale = [dataclasses.replace(p, variant_key="old") for p in PROFILES]
    with pytest.raises(PlanError, match="no profiled variant"):
        plan_serving(
            REFERENCE, variants=rebuilt, profiles=stale, catalog=CATALOG, settings=SETTINGS
        )
    fresh = [dataclasses.replace(p, variant_key="new") for p in PROFILES]
    plan = plan_serving(
        REFERENCE, variants=rebuilt, profiles=stale + fresh, catalog=CATALOG, settings=SETTINGS
    )
    assert plan.winner.slo.is_met


def test_an_availability_target_raises_the_replica_floor() -> None:
    # Independent replicas at EC2's 99.5 % instance SLA: 1 - 0.005^4 >= 0.99999999 > 1 - 0.005^3.
    strict = REFERENCE.model_copy(
        update={
            "constraints": Constraints(
                providers=("aws",),
                regions=("us-east-1",),
                max_spot_share=1.0,
                availability_target=0.99999999,
            ),
            "platform": MACHINES_ONLY,
        }
    )
    plan = plan_serving(
        strict, variants=VARIANTS, profiles=PROFILES, catalog=CATALOG, settings=SETTINGS
    )
    assert plan.winner.replicas_min >= 4
    assert (
        plan.winner.monthly_usd
        > plan_serving(
            REFERENCE.model_copy(update={"platform": MACHINES_ONLY}),
            variants=VARIANTS,
            profiles=PROFILES,
            catalog=CATALOG,
            settings=SETTINGS,
        ).winner.monthly_usd
    )


def _search(workload: Workload, profiles: Sequence[Profile] = PROFILES) -> Search:
    return run_search(
        workload,
        variants=VARIANTS,
        profiles={p.variant: [p] for p in profiles},
        catalog=CATALOG,
        baseline="baseline",
        settings=SETTINGS,
    )


def test_a_spot_fleet_may_diversify_over_instance_types_that_lose_it_nothing() -> None:
    search = _search(REFERENCE)
    diversified = [c for c in search.candidates if c.spot_types]
    assert diversified, "the reference catalog has machines alike enough to diversify over"
    speeds = {(s.variant.name, s.offer.instance_type): s for s in search.speeds}
    for candidate in diversified:
        assert candidate.pricing in ("spot", "mixed")
        first, *others = candidate.spot_types
        assert 2 <= len(candidate.spot_types) <= SETTINGS.spot_types
        assert first == candidate.speed.offer.instance_type
        mine = speeds[(candidate.speed.variant.name, first)]
        prices = [mine.offer.spot_usd_per_hour]
        for name in others:
            other = speeds[(candidate.speed.variant.name, name)]
            assert other.offer.vcpus == mine.offer.vcpus
            assert other.offer.memory_gib >= mine.offer.memory_gib
            assert other.pods_per_node >= mine.pods_per_node
            assert other.replica.latency_ms_p99 <= mine.replica.latency_ms_p99
            prices.append(other.offer.spot_usd_per_hour)
        # Priced at the mean of the types, reclaimed per pool: zones x types.
        assert candidate.speed.offer.spot_usd_per_hour == pytest.approx(
            sum(p or 0.0 for p in prices) / len(prices), abs=1e-6
        )
        assert candidate.choice is not None
        assert candidate.choice[2].pools == SETTINGS.spot_zones * len(candidate.spot_types)
        assert "Karpenter-style" in candidate.speed.offer.note


def test_a_burstable_fleet_in_standard_mode_counts_its_throttled_minutes() -> None:
    busy = REFERENCE.model_copy(
        update={
            "traffic": Traffic(requests_per_day=20_000_000, daily_shape="consumer"),
            "platform": MACHINES_ONLY.model_copy(update={"credit_mode": "standard"}),
        }
    )
    search = _search(busy)
    burstable = [c for c in search.candidates if c.speed.offer.instance_type.startswith("t3.")]
    assert burstable and all(c.credits is not None for c in burstable)
    throttled = [c for c in burstable if c.credits and c.credits.throttled_minutes]
    assert throttled, "20 M requests a day outrun a t3 fleet's baseline somewhere"
    for candidate in throttled:
        assert candidate.credits is not None
        assert candidate.minutes_over_slo >= candidate.credits.throttled_minutes
        surplus = [line for line in candidate.cost.lines if line.pricing == "surplus"]
        assert [line.usd_per_month for line in surplus] == [0.0]  # standard mode owes none
        assert "standard" in candidate.prerequisites[0]
    # The same fleets in unlimited mode run at full speed and pay for it instead.
    unlimited = _search(busy.model_copy(update={"platform": MACHINES_ONLY}))
    paid = [
        c
        for c in unlimited.candidates
        if c.credits is not None
        and any(line.pricing == "surplus" and line.usd_per_month > 0 for line in c.cost.lines)
    ]
    assert paid and all(c.credits and c.credits.throttled_minutes == 0 for c in paid)


def test_a_variant_not_shown_within_the_points_allowed_is_left_out() -> None:
    # 0.65 pt below the baseline (inside 1 pt) on 2,314 rows, 30 vs 15 discordant: the drop's
    # interval reaches 1.26 pt, so the variant is not shown within the 1 pt allowed.
    doubtful = [
        dataclasses.replace(p, accuracy=0.8621, discordant=(30, 15))
        if p.variant == "int8-dynamic"
        else p
        for p in PROFILES
    ]
    search = _search(REFERENCE, doubtful)
    assert {s.variant.name for s in search.speeds} == {"baseline"}
    (reason,) = [e for e in search.excluded if e.startswith("int8-dynamic:")]
    assert "reaches 1.26 pt on 2,314 test rows, past the 1 pt allowed" in reason
    # The same drop, resolved (3 vs 3 rows), is kept.
    sure = [dataclasses.replace(p, discordant=(3, 3)) for p in PROFILES]
    again = _search(REFERENCE, sure)
    assert "int8-dynamic" in {s.variant.name for s in again.speeds}
