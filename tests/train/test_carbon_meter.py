"""A training run's CO2e, metered by codecarbon and counted as plans count it."""

from __future__ import annotations

import pytest

from mlcost.catalog import grid_intensity, load_power_table, load_shipped
from mlcost.train._accounting import CarbonMeter, machine_price

pytest.importorskip("codecarbon")


def busy_work() -> None:
    sum(i * i for i in range(2_000_000))


def test_a_run_on_a_named_machine_gets_the_plans_pue_and_region_grid() -> None:
    machine = machine_price(load_shipped(), "c6i.large", "us-east-1", is_spot=False)
    with CarbonMeter(country="USA", machine=machine) as meter:
        busy_work()
    footprint = meter.footprint
    assert footprint.energy_kwh is not None and footprint.energy_kwh > 0
    pue = load_power_table().coefficient("pue", "aws")
    assert pue is not None
    grid = grid_intensity("aws", "us-east-1").g_co2e_per_kwh  # Virginia, not the US average
    assert footprint.co2_kg == pytest.approx(footprint.energy_kwh * pue.low * grid / 1000)
    assert "Virginia" in footprint.basis
    assert footprint.basis.startswith(("energy measured by codecarbon", "energy estimated"))


def test_a_run_without_a_machine_keeps_codecarbons_country_figure() -> None:
    with CarbonMeter(country="USA") as meter:
        busy_work()
    assert meter.footprint.co2_kg is not None
    assert meter.footprint.basis.endswith("CO2e by codecarbon, grid of USA")
