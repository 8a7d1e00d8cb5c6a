"""Energy and kgCO2e of a fleet: the shipped coefficients, the grid fallbacks, a worked example."""

from __future__ import annotations

from datetime import date

import pytest

from mlcost.catalog import (
    GridIntensity,
    grid_intensity,
    load_power_table,
    load_shipped,
    parse_power_rows,
    parse_region_locations,
)
from mlcost.core import PROVIDERS, CostError, Offer
from mlcost.cost import GridLookup, NodeUsage, energy_carbon, fleet_carbon

CATALOG = load_shipped()
POWER = load_power_table()
HEADER = "component,provider,name,low,high,unit,as_of,source,note\n"


def offer(instance_type: str, region: str = "us-east-1") -> Offer:
    return CATALOG.require_offer(instance_type, region=region)


def fixed_grid(g_co2e_per_kwh: float) -> GridLookup:
    def lookup(provider: str, region: str) -> GridIntensity:
        return GridIntensity(provider, region, g_co2e_per_kwh, "world", "a test grid", "test")

    return lookup


def test_every_coefficient_is_shipped_with_its_source_and_date() -> None:
    for row in POWER.coefficients:
        assert row.source.startswith("https://"), row
        assert date(2020, 1, 1) <= row.as_of <= date.today()
        assert row.note
    for provider in PROVIDERS:
        assert POWER.coefficient("cpu", provider) is not None
        pue = POWER.coefficient("pue", provider)
        assert pue is not None and 1.0 <= pue.low < 1.3
    memory = POWER.coefficient("memory", "aws")
    assert memory is not None and memory.low == 0.392  # Cloud Carbon Footprint's W per GB
    for gpu in ("T4", "A10G", "L4", "L40S", "A100-40GB", "A100-80GB", "H100"):
        row = POWER.gpu(gpu)
        assert row is not None and 0 < row.low < row.high, gpu
    assert POWER.gpu("Inferentia2") is None  # no published figure: not guessed


def test_the_datasheet_maximum_is_each_gpus_tdp() -> None:
    tdp = {"T4": 70, "L4": 72, "L40S": 350, "A100-80GB": 400, "H100": 700}
    for name, watts in tdp.items():
        row = POWER.gpu(name)
        assert row is not None and row.high == watts
        assert "nvidia.com" in row.source


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("cpu,aws,avg,0.74,3.5,W per vCPU,2026-12-03,,", "missing source"),
        ("cpu,aws,avg,3.5,0.74,W per vCPU,2026-12-03,https://x,", "low 3.5 is above high 0.74"),
        ("cpu,aws,avg,abc,3.5,W per vCPU,2026-12-03,https://x,", "low must be a number"),
        ("cpu,aws,avg,-1,3.5,W per vCPU,2026-12-03,https://x,", "finite number >= 0"),
        ("cpu,,avg,0.74,3.5,W per vCPU,2026-12-03,https://x,", "needs a provider"),
        ("cpu,ibm,avg,0.74,3.5,W per vCPU,2026-12-03,https://x,", "provider 'ibm'"),
        ("cpu,aws,avg,0.74,3.5,W per GPU,2026-12-03,https://x,", "unit 'W per GPU'"),
        ("gpu,,B200,100,1000,W per GPU,2026-12-03,https://x,", "GPU 'B200'"),
        ("pue,aws,fleet,0.9,0.9,ratio,2026-12-03,https://x,", "at least 1"),
        ("disk,aws,ssd,1,1,W,2026-12-03,https://x,", "component 'disk'"),
        ("cpu,aws,avg,0.74,3.5,W per vCPU,someday,https://x,", "as_of must be a date"),
    ],
)
def test_a_bad_coefficient_row_is_an_error_at_its_line(row: str, message: str) -> None:
    rows, issues = parse_power_rows(HEADER + row + "\n", "power.csv")
    assert rows == ()
    assert any(i.level == "error" and i.where == "power.csv:2" for i in issues)
    assert message in " ".join(i.message for i in issues)


def test_a_row_listed_twice_and_a_missing_column_are_errors() -> None:
    row = "pue,aws,fleet,1.1,1.1,ratio,2026-12-03,https://x,\n"
    rows, issues = parse_power_rows(HEADER + row + row, "power.csv")
    assert len(rows) == 1 and "listed twice (first at power.csv:2)" in issues[0].message
    _, issues = parse_power_rows("component,provider\ncpu,aws\n", "power.csv")
    assert "missing column(s) name, low, high" in issues[0].message
    locations, issues = parse_region_locations(
        "provider,region,country,state,place,source\naws,us-east-1,US,virginia,N. Virginia,\n",
        "region_locations.csv",
    )
    assert locations == ()
    assert {"missing source; fill it in"} < {i.message for i in issues}
    assert any("ISO 3166 alpha-3" in i.message for i in issues)


def test_two_c6i_large_at_half_load_for_a_month_in_us_east_1_worked_by_hand() -> None:
    # By hand: a c6i.large has 2 vCPUs and 4 GiB. CCF's AWS figures are 0.74 W per vCPU
    # idle and 3.5 W at full load, 0.392 W per GiB of memory; AWS's PUE is 1.14. An idle
    # node draws 2 x 0.74 + 4 x 0.392 = 3.048 W, a full one 2 x 3.5 + 4 x 0.392 = 8.568 W,
    # so half load draws (3.048 + 8.568) / 2 = 5.808 W. Two nodes for 730 h: 1,460
    # node-hours x 5.808 W = 8.47968 kWh at the machines, x 1.14 = 9.6668 kWh drawn.
    # us-east-1 is in Virginia, whose eGRID2023 rate codecarbon gives as 539.599 lbs/MWh
    # = 244.758 gCO2e/kWh: 9.6668 kWh x 0.244758 = 2.3660 kgCO2e.
    assert POWER.coefficient("cpu", "aws").low == 0.74  # type: ignore[union-attr]
    assert POWER.coefficient("cpu", "aws").high == 3.5  # type: ignore[union-attr]
    assert POWER.coefficient("pue", "aws").low == 1.14  # type: ignore[union-attr]
    usage = NodeUsage(offer("c6i.large"), node_hours=2 * 730, cpu_utilization=0.5)
    result = fleet_carbon([usage], method="a worked example")
    assert result.energy_kwh == pytest.approx(9.6668, rel=1e-4)
    assert result.kg_co2e == pytest.approx(2.3660, rel=1e-4)
    assert result.g_co2e_per_kwh == pytest.approx(244.758, rel=1e-5)
    assert result.basis == "estimated"
    assert result.method.startswith("a worked example")
    shown = "\n".join(result.inputs)
    for source in ("cloud-carbon-footprint", "EPA eGRID2023", "sustainability.aboutamazon.com"):
        assert source in shown
    assert "1,460.0 node-hours, CPU 50.0% busy" in shown


def test_a_gpu_node_counts_its_gpus_between_idle_and_their_maximum() -> None:
    g5 = offer("g5.xlarge")  # 4 vCPUs, 16 GiB, 1 A10G: idle 18 W, max 153 W in the table
    grid = fixed_grid(1000.0)  # 1 kg a kWh: kg equals kWh
    idle = fleet_carbon([NodeUsage(g5, 1000.0, 0.0, 0.0)], method="t", grid=grid)
    busy = fleet_carbon([NodeUsage(g5, 1000.0, 0.0, 1.0)], method="t", grid=grid)
    assert busy.energy_kwh - idle.energy_kwh == pytest.approx((153 - 18) * 1000 / 1000 * 1.14)
    assert idle.kg_co2e == pytest.approx(idle.energy_kwh)


def test_a_fleet_over_two_regions_weighs_each_by_its_own_grid() -> None:
    east = NodeUsage(offer("c6i.large"), 730.0, 0.5)
    west = NodeUsage(offer("c6i.large", "us-west-2"), 730.0, 0.5)
    both = fleet_carbon([east, west], method="t")
    alone = [fleet_carbon([usage], method="t") for usage in (east, west)]
    assert both.kg_co2e == pytest.approx(sum(a.kg_co2e for a in alone))
    assert alone[1].kg_co2e < alone[0].kg_co2e  # Oregon's grid is cleaner than Virginia's


def test_an_accelerator_without_a_coefficient_is_named_not_guessed() -> None:
    with pytest.raises(CostError, match=r"no power coefficient for Inferentia2 \(inf2.xlarge\)"):
        fleet_carbon([NodeUsage(offer("inf2.xlarge"), 730.0, 0.5)], method="t")
    with pytest.raises(CostError, match=r"cpu utilization must be in \[0, 1\]"):
        NodeUsage(offer("c6i.large"), 730.0, 1.5)


def test_a_region_in_codecarbons_cloud_table_needs_no_fallback() -> None:
    grid = grid_intensity("gcp", "us-central1")
    assert grid.basis == "cloud region" and grid.fallback == ""
    assert "cloud.google.com" in grid.source


def test_a_region_codecarbon_lacks_falls_back_and_names_the_fallback() -> None:
    state = grid_intensity("aws", "us-east-1")
    assert state.basis == "state" and state.area == "Virginia, USA"
    assert "not in codecarbon's cloud table" in state.fallback and "state" in state.fallback
    country = grid_intensity("azure", "northeurope")
    assert country.basis == "country" and country.area == "Ireland"
    assert "average grid of its country" in country.fallback
    unknown = grid_intensity("aws", "mars-1")
    assert unknown.basis == "world" and unknown.g_co2e_per_kwh == 475
    assert "mars-1" in unknown.fallback and "world average" in unknown.fallback
    assert "iea.org" in unknown.source
    assert unknown.fallback in unknown.cited


def test_every_shipped_region_has_its_own_grid_not_the_worlds() -> None:
    for provider, region in {(o.provider, o.region) for o in CATALOG.offers}:
        assert grid_intensity(provider, region).basis != "world", (provider, region)
    for location in POWER.locations:  # each US state is spelled as codecarbon spells it
        if location.country == "USA":
            assert grid_intensity(location.provider, location.region).basis == "state"


def test_metered_energy_is_measured_and_gets_the_same_pue_and_grid_as_an_estimate() -> None:
    result = energy_carbon(
        2.0, provider="aws", region="us-east-1", basis="measured", method="codecarbon"
    )
    assert result.basis == "measured"
    assert result.energy_kwh == pytest.approx(2.0 * 1.14)
    expected = grid_intensity("aws", "us-east-1").g_co2e_per_kwh
    assert result.kg_co2e == pytest.approx(2.0 * 1.14 * expected / 1000)
    with pytest.raises(CostError, match="energy must be >= 0 kWh"):
        energy_carbon(
            -1.0, provider="aws", region="us-east-1", basis="measured", method="codecarbon"
        )
