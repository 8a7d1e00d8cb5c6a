"""The training report: the options table, the recommendation and the JSON a user would read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from mlcost.catalog import load_catalog
from mlcost.cli._training_report import render_training_plan, training_plan_json
from mlcost.core import TrainingWorkload
from mlcost.plan._training_plan import TrainingPlan, plan_training_workload
from mlcost.plan._workload import load_training_workload

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def plan() -> TrainingPlan:
    workload = load_training_workload(ROOT / "examples" / "training.yaml")
    return plan_training_workload(workload, load_catalog(), runs=2000)


def _rendered(plan: TrainingPlan) -> str:
    console = Console(record=True, width=240)
    render_training_plan(plan, console)
    return console.export_text()


def test_the_report_shows_every_option_with_its_check_and_the_pick(plan: TrainingPlan) -> None:
    text = _rendered(plan)
    assert "Training plan: sentiment-finetune: 2 x g5.xlarge (1 x A10G each)" in text
    assert "40 GPU-hours / 2 GPUs = 20.00 h" in text
    assert "on-demand $1.0060/h, spot $0.4246/h" in text
    assert "bucket >20%" in text
    for header in ("pricing", "checkpoint every", "wall h", "$ expected", "P(deadline)"):
        assert header in text
    rows = [line for line in text.splitlines() if line.startswith("│")]
    assert [row.split("│")[1].strip() for row in rows] == [
        "on-demand",
        "spot",
        "spot-with-fallback",
    ]
    on_demand = [cell.strip() for cell in rows[0].split("│")[1:-1]]
    cost = plan.options[0].expected_cost_usd
    assert on_demand[:3] == ["on-demand", "30.0 min", "20.65"]
    assert on_demand[6:] == [f"${cost:,.2f}", "1.000", "20.65", "+0.00%"]
    assert "estimated" in text
    assert f"Recommended: {plan.recommended.pricing} (estimated)" in text
    assert "capped at 1,800 s" in text


def test_without_a_deadline_the_probability_column_is_a_dash() -> None:
    workload = TrainingWorkload.model_validate(
        {
            "training": {
                "provider": "aws",
                "region": "us-east-1",
                "instance_type": "c6i.large",
                "work_hours": 3,
                "checkpoint_write_s": 10,
                "restore_s": 20,
            }
        }
    )
    text = _rendered(plan_training_workload(workload, load_catalog(), runs=200))
    assert "no GPU: 1 per node counted" in text
    assert "no deadline" in text
    rows = [line for line in text.splitlines() if line.startswith("│")]
    assert len(rows) == 2
    assert all(row.split("│")[8].strip() == "-" for row in rows)


def test_the_json_round_trips_and_names_the_pick(plan: TrainingPlan) -> None:
    data = training_plan_json(plan)
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert data["kind"] == "training"
    assert data["recommended"] == plan.recommended.pricing
    assert data["work_hours"] == 20.0
    assert data["offer"]["interruption_bucket"] == ">20%"
    assert data["workload"]["training"]["work_gpu_hours"] == 40
    options = data["options"]
    assert [option["pricing"] for option in options] == ["on-demand", "spot", "spot-with-fallback"]
    spot = options[1]
    assert spot["checkpoint_interval_s"] == 1800
    assert abs(spot["monte_carlo"]["wall_hours_gap_fraction"]) < 0.02
    assert spot["basis"] == "estimated"
