"""`mlcost plan` as a user runs it: the installed command in a subprocess, on a real store."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plan"))
from planning_inputs import seed_workspace
from test_cli import run

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "examples" / "workload.yaml"
TRAINING = ROOT / "examples" / "training.yaml"


@pytest.fixture
def measured_home(tmp_path: Path) -> Path:
    """A workspace holding the demo's variants and their profiles, as compress leaves it."""
    return seed_workspace(tmp_path / "ws")


def test_plan_prints_the_winner_the_waterfall_and_writes_plan_json(
    measured_home: Path, tmp_path: Path
) -> None:
    out_file = tmp_path / "plan.json"
    out = run("plan", str(REFERENCE), "--out", str(out_file), home=measured_home).stdout
    assert out.startswith("ESTIMATED")  # the speeds on catalog machines are estimates
    for text in ("winner:", "savings waterfall", "today: 5 x g4dn.xlarge", "runners-up", "met"):
        assert text in out
    for text in ("the winner's bill", "best kubernetes", "best vm-group", "control plane"):
        assert text in out
    data = json.loads(out_file.read_text())
    assert data["winner"]["slo"]["is_met"] is True
    today = data["waterfall"][0]
    compute = [line for line in today["cost"]["lines"] if line["category"] == "compute"]
    assert sum(line["usd_per_month"] for line in compute) == pytest.approx(0.526 * 5 * 730)
    assert today["monthly_usd"] > 0.526 * 5 * 730  # its platform, storage and transfer too
    lines = data["winner"]["cost"]["lines"]
    total = sum(line["usd_per_month"] for line in lines if line["is_charged"])
    assert data["winner"]["monthly_usd"] == pytest.approx(total)
    assert {o["platform"] for o in data["platforms"]} == {"kubernetes", "vm-group", "serverless"}
    assert total < 129.60
    requests_per_month = 1_000_000 * 730 / 24
    assert data["usd_per_1k_predictions"] == pytest.approx(
        total / requests_per_month * 1000, rel=0.01
    )


def test_plan_json_goes_to_stdout(measured_home: Path, tmp_path: Path) -> None:
    out = run(
        "plan", str(REFERENCE), "--json", "--out", str(tmp_path / "p.json"), home=measured_home
    )
    assert json.loads(out.stdout)["workload"] == "sentiment-api"


def test_a_malformed_workload_is_one_numbered_line_and_nothing_is_written(
    measured_home: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "workload.yaml"
    bad.write_text("traffic:\n  requests_per_day: 1000\nslo:\n  latncy_ms: 150\n")
    out_file = tmp_path / "plan.json"
    result = run("plan", str(bad), "--out", str(out_file), home=measured_home, check=False)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{bad}:4:" in lines[0] and "latency_ms" in lines[0]
    assert not out_file.exists()


def test_an_infeasible_workload_names_the_binding_constraint(
    measured_home: Path, tmp_path: Path
) -> None:
    tight = tmp_path / "tight.yaml"
    tight.write_text(REFERENCE.read_text().replace("latency_ms: 150", "latency_ms: 0.5"))
    result = run(
        "plan", str(tight), "--out", str(tmp_path / "p.json"), home=measured_home, check=False
    )
    assert result.returncode == 2
    assert "binding constraint" in result.stderr and "relax" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_empty_workspace_asks_for_compress_first(tmp_path: Path) -> None:
    result = run(
        "plan",
        str(REFERENCE),
        "--out",
        str(tmp_path / "p.json"),
        home=tmp_path / "empty",
        check=False,
    )
    assert result.returncode == 2 and "mlcost compress" in result.stderr


def test_a_training_file_gets_the_training_plan(tmp_path: Path) -> None:
    out = run("plan", str(TRAINING), "--out", str(tmp_path / "t.json"), home=tmp_path / "ws").stdout
    assert "spot-with-fallback" in out and "Recommended" in out
    data = json.loads((tmp_path / "t.json").read_text())
    assert {o["pricing"] for o in data["options"]} == {"on-demand", "spot", "spot-with-fallback"}
