"""kgCO2e in the plan: beside every option's dollars, a cleaner region pointed out, never ranked."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from mlcost.catalog import load_power_table, load_shipped
from mlcost.core import Constraints, Plan, PlanOption, from_jsonable, to_jsonable
from mlcost.plan import plan_serving
from mlcost.plan._answer import CLEANER_CO2_CUT, CLEANER_COST_BAND

sys.path.insert(0, str(Path(__file__).resolve().parent))
from planning_inputs import PROFILES, VARIANTS
from test_plan_serving import REFERENCE, SETTINGS

CATALOG = load_shipped()
POWER = load_power_table()
# The same machines at the same list prices in both regions; Oregon's grid is about a third
# cleaner than Virginia's.
TWO_REGIONS = REFERENCE.model_copy(
    update={
        "constraints": Constraints(
            providers=("aws",), regions=("us-east-1", "us-west-2"), max_spot_share=1.0
        )
    }
)


def plan_for(workload: Any) -> Plan:
    return plan_serving(
        workload, variants=VARIANTS, profiles=PROFILES, catalog=CATALOG, settings=SETTINGS
    )


@pytest.fixture(scope="module")
def one_region() -> Plan:
    return plan_for(REFERENCE)


@pytest.fixture(scope="module")
def two_regions() -> Plan:
    return plan_for(TWO_REGIONS)


def options(plan: Plan) -> list[PlanOption]:
    bars = [bar.option for bar in plan.waterfall if bar.option is not None]
    return [plan.winner, *plan.runners_up, *plan.pareto, *plan.platforms, *bars]


def test_every_option_carries_its_months_kgco2e(one_region: Plan) -> None:
    for option in options(one_region):
        carbon = option.carbon
        assert carbon is not None, option.label
        assert carbon.basis == "estimated" and carbon.kg_co2e > 0
        assert carbon.kg_co2e == pytest.approx(carbon.energy_kwh * carbon.g_co2e_per_kwh / 1000)
        assert any("gCO2e/kWh" in line for line in carbon.inputs)


def test_a_machine_options_energy_lies_between_its_nodes_idle_and_flat_out(
    one_region: Plan,
) -> None:
    machines = [o for o in options(one_region) if o.platform != "serverless"]
    assert machines
    for option in machines:
        offer, carbon = option.offer, option.carbon
        cpu, memory = POWER.coefficient("cpu", "aws"), POWER.coefficient("memory", "aws")
        pue = POWER.coefficient("pue", "aws")
        assert carbon is not None and cpu is not None and memory is not None and pue is not None
        gpu_idle = gpu_max = 0.0
        if offer.accelerator_name:
            gpu = POWER.gpu(offer.accelerator_name)
            assert gpu is not None
            gpu_idle, gpu_max = (
                offer.accelerator_count * gpu.low,
                offer.accelerator_count * gpu.high,
            )
        node_hours = option.nodes_mean * 730  # the simulated mean node count over a month
        idle = node_hours * (offer.vcpus * cpu.low + offer.memory_gib * memory.low + gpu_idle)
        full = node_hours * (offer.vcpus * cpu.high + offer.memory_gib * memory.low + gpu_max)
        assert idle * pue.low / 1000 <= carbon.energy_kwh * (1 + 1e-9)
        assert carbon.energy_kwh <= full * pue.low / 1000


def test_the_plan_is_still_ranked_by_dollars(two_regions: Plan) -> None:
    cheapest = min(o.monthly_usd for o in options(two_regions))
    assert two_regions.winner.monthly_usd == pytest.approx(cheapest)


def test_a_cleaner_region_at_a_similar_cost_is_pointed_out(two_regions: Plan) -> None:
    winner = two_regions.winner
    assert winner.carbon is not None
    assert two_regions.cleaner, two_regions.carbon_notes
    for other in two_regions.cleaner:
        assert other.offer.provider == winner.offer.provider
        assert other.offer.region != winner.offer.region
        assert other.carbon is not None
        assert other.monthly_usd <= winner.monthly_usd * (1 + CLEANER_COST_BAND)
        assert other.carbon.kg_co2e <= winner.carbon.kg_co2e * (1 - CLEANER_CO2_CUT)
        assert any(
            note.startswith("cleaner at a similar cost") and other.label in note
            for note in two_regions.carbon_notes
        )


def test_a_plan_over_one_region_says_no_cleaner_region_was_weighed(one_region: Plan) -> None:
    assert one_region.cleaner == ()
    assert any("no cleaner region was weighed" in note for note in one_region.carbon_notes)


def test_the_carbon_round_trips_and_a_plan_json_without_it_still_loads(
    two_regions: Plan,
) -> None:
    data = to_jsonable(two_regions)
    assert from_jsonable(Plan, data) == two_regions

    def strip(value: Any) -> Any:  # a plan.json written before carbon was estimated
        if isinstance(value, dict):
            gone = ("carbon", "carbon_notes", "cleaner")
            return {k: strip(v) for k, v in value.items() if k not in gone}
        if isinstance(value, list):
            return [strip(item) for item in value]
        return value

    old = from_jsonable(Plan, strip(data))
    assert old.winner.carbon is None and old.winner.kg_co2e_per_month is None
    assert old.carbon_notes == () and old.cleaner == ()
    assert old.winner.monthly_usd == two_regions.winner.monthly_usd
