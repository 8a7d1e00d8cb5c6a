"""The printed plan: kgCO2e beside each option's dollars, and the carbon notes."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest
from rich.console import Console

from mlcost.cli._plan_report import render_plan
from mlcost.core import Plan

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plan"))
from test_plan_carbon import TWO_REGIONS, plan_for


@pytest.fixture(scope="module")
def plan() -> Plan:
    return plan_for(TWO_REGIONS)


def printed(plan: Plan) -> str:
    console = Console(record=True, width=400, color_system=None)
    render_plan(plan, console)
    return console.export_text()


def test_each_option_shows_its_kgco2e_beside_its_dollars(plan: Plan) -> None:
    out = printed(plan)
    winner = plan.winner.carbon
    assert winner is not None
    assert f"{winner.kg_co2e:,.2f} kgCO2e/month" in out
    runners = out[out.index("runners-up") :]
    header = next(line for line in runners.splitlines() if "$/month" in line)
    assert header.index("$/month") < header.index("kgCO2e/month") < header.index("accuracy")
    for option in plan.runners_up:
        row = next(line for line in runners.splitlines() if option.label in line)
        assert f"{option.kg_co2e_per_month:,.2f}" in row


def test_the_cleaner_region_and_the_inputs_sources_are_printed(plan: Plan) -> None:
    out = printed(plan)
    assert "carbon: cleaner at a similar cost:" in out
    assert "carbon input: grid" in out and "eGRID2023" in out


def test_a_plan_without_carbon_figures_still_prints(plan: Plan) -> None:
    old = dataclasses.replace(
        plan,
        winner=dataclasses.replace(plan.winner, carbon=None),
        runners_up=tuple(dataclasses.replace(o, carbon=None) for o in plan.runners_up),
        carbon_notes=(),
        cleaner=(),
    )
    out = printed(old)
    assert "energy / CO2e: not estimated" in out
    assert "carbon:" not in out
