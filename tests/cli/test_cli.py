"""The CLI as a user runs it: the installed `mlcost` command in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

MLCOST = str(Path(sys.executable).with_name("mlcost"))


def run(
    *args: str, home: Path, check: bool = True, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MLCOST_DB_URL", "MLCOST_DEBUG")}
    env["MLCOST_HOME"] = str(home)
    result = subprocess.run(
        [MLCOST, *args], capture_output=True, text=True, env=env, check=False, timeout=timeout
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "ws"


def test_case_study_prints_the_waterfall(home: Path) -> None:
    out = run("cost", "case-study", home=home).stdout
    for figure in ("$1,893.60", "$1,136.16", "$324.00", "$129.60", "93.2%"):
        assert figure in out
    assert "estimated" in out
    assert "compute only: the story's own scope; `mlcost plan` prices the whole bill" in out
    assert "differs" in out  # today's g4dn.xlarge spot is not the story's $0.15


def test_case_study_json_and_what_if(home: Path) -> None:
    data = json.loads(
        run("cost", "case-study", "--gpu-count", "10", "--days", "31", "--json", home=home).stdout
    )
    assert data["baseline_usd"] == pytest.approx(10 * 0.526 * 24 * 31)
    assert data["basis"].startswith("estimated")
    assert {"final_usd", "reduction", "price_checks", "study"} <= data.keys()
    # Each bar is the plan's WaterfallBar: a bill of one compute line, machine-hours x $/h.
    (line,) = data["waterfall"][0]["cost"]["lines"]
    assert (line["category"], line["unit"], line["pricing"]) == (
        "compute",
        "node-hour",
        "on-demand",
    )
    assert line["quantity"] == pytest.approx(10 * 24 * 31)
    assert line["source"] == "the reference story"
    assert data["waterfall"][-1]["monthly_usd"] == pytest.approx(data["final_usd"])


@pytest.mark.slow
def test_demo_reuses_the_cached_teacher_compresses_and_plans(home: Path) -> None:
    """The demo on a planted tiny teacher (the real one takes minutes to train)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
    from tiny_model import train_tiny_teacher

    teacher = home / "artifacts" / "teacher"
    train_tiny_teacher(home / "tiny", out_dir=teacher)
    accuracy = json.loads((teacher / "metrics.json").read_text())["accuracy_test"]
    workload = Path(__file__).resolve().parents[2] / "examples" / "workload.yaml"
    out = run("demo", "--workload", str(workload), home=home, timeout=900).stdout
    assert "demo teacher: cached" in out and f"{accuracy:.2%}" in out
    assert "Variants, measured on" in out and "recommended:" in out
    assert "distilled-int8" in out and "fp16: skipped" in out
    assert "winner:" in out and "savings waterfall" in out and "today: 5 x g4dn.xlarge" in out
    assert "$129.60" in out and "mlcost's plan" in out
    assert (home / "plan.json").is_file()


def test_catalog_list_t4_on_aws_shows_prices_and_sources(home: Path) -> None:
    out = run("catalog", "list", "--accelerator", "T4", "--provider", "aws", home=home).stdout
    assert "g4dn.xlarge" in out and "$0.5260" in out and "$0.2000" in out
    assert "skypilot-org/skypilot-catalog" in out
    rows = json.loads(
        run(
            "catalog", "list", "--accelerator", "T4", "--provider", "aws", "--json", home=home
        ).stdout
    )
    assert rows and all(r["accelerator_name"] == "T4" and r["source"] for r in rows)
    assert all(
        r["spot_usd_per_hour"] < r["on_demand_usd_per_hour"] for r in rows if r["spot_usd_per_hour"]
    )


def test_catalog_show_lists_pricing_models(home: Path) -> None:
    out = run("catalog", "show", "n2-standard-4", "--region", "us-central1", home=home).stdout
    assert "on-demand" in out and "spot" in out and "Resource-based CUD" in out
    assert "source: https://" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["catalog", "list", "--provider", "oracle"],
            "error: unknown provider 'oracle'; use one of aws, gcp, azure",
        ),
        (["catalog", "list", "--accelerator", "K80"], "error: unknown accelerator 'K80'"),
        (["catalog", "show", "x9.huge"], "error: x9.huge is not in the catalog"),
        (
            ["cost", "per-1k", "--throughput-per-s", "0", "--usd-per-hour", "1"],
            "error: throughput must be > 0",
        ),
        (
            ["cost", "per-1k", "--throughput-per-s", "5"],
            "error: give exactly one of --usd-per-hour or --instance",
        ),
        (["catalog", "list", "--min-vcpus", "zero"], "Invalid value for '--min-vcpus'"),
        (["catalog", "import", "/nonexistent/prices.csv"], "prices.csv"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(home: Path, args: list[str], message: str) -> None:
    result = run(*args, home=home, check=False)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_shows_the_traceback(home: Path) -> None:
    result = run("--debug", "catalog", "show", "x9.huge", home=home, check=False)
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_every_command_has_help(home: Path) -> None:
    commands = [
        ["catalog", "list"],
        ["catalog", "show"],
        ["catalog", "import"],
        ["catalog", "prices"],
        ["catalog", "override", "set"],
        ["catalog", "override", "list"],
        ["catalog", "override", "remove"],
        ["cost", "case-study"],
        ["cost", "monthly"],
        ["cost", "per-1k"],
        ["cost", "breakeven"],
        ["cost", "tco"],
        ["demo"],
        ["compress"],
        ["profile", "measure"],
        ["profile", "import"],
        ["variants", "list"],
        ["plan"],
    ]
    for command in commands:
        out = run(*command, "--help", home=home).stdout
        assert "--home" in out or command[-1] == "tco", command


def test_home_flag_on_a_command_picks_the_workspace(tmp_path: Path) -> None:
    chosen = tmp_path / "chosen"
    run(
        "catalog",
        "override",
        "set",
        "c6i.large",
        "--region",
        "us-east-1",
        "--spot",
        "0.02",
        "--home",
        str(chosen),
        home=tmp_path / "env-home",
    )
    assert (chosen / "mlcost.db").exists()
    assert not (tmp_path / "env-home" / "mlcost.db").exists()


def test_override_round_trip_shows_as_override(home: Path) -> None:
    run(
        "catalog",
        "override",
        "set",
        "g4dn.xlarge",
        "--region",
        "us-east-1",
        "--discount-pct",
        "25",
        "--note",
        "EDP",
        home=home,
    )
    rows = json.loads(
        run(
            "catalog", "list", "--region", "us-east-1", "--accelerator", "T4", "--json", home=home
        ).stdout
    )
    gpu = next(r for r in rows if r["instance_type"] == "g4dn.xlarge")
    assert gpu["origin"] == "override" and gpu["on_demand_usd_per_hour"] == pytest.approx(
        0.526 * 0.75
    )
    assert "override" in run("catalog", "override", "list", home=home).stdout
    run("catalog", "override", "remove", "g4dn.xlarge", "--region", "us-east-1", home=home)
    rows = json.loads(
        run(
            "catalog", "list", "--region", "us-east-1", "--accelerator", "T4", "--json", home=home
        ).stdout
    )
    assert next(r for r in rows if r["instance_type"] == "g4dn.xlarge")["origin"] == "shipped"


def test_override_spot_above_on_demand_is_refused(home: Path) -> None:
    result = run(
        "catalog",
        "override",
        "set",
        "c6i.large",
        "--region",
        "us-east-1",
        "--spot",
        "0.5",
        home=home,
        check=False,
    )
    assert result.returncode == 2 and "not below on-demand" in result.stderr


def test_cost_commands(home: Path) -> None:
    monthly = json.loads(
        run("cost", "monthly", "g4dn.xlarge", "--count", "2", "--json", home=home).stdout
    )
    on_demand = monthly["options"][0]
    assert on_demand["monthly_usd"] == pytest.approx(2 * 0.526 * 730)
    per_1k = json.loads(
        run(
            "cost",
            "per-1k",
            "--instance",
            "c6i.large",
            "--spot",
            "--throughput-per-s",
            "20",
            "--utilization",
            "0.5",
            "--json",
            home=home,
        ).stdout
    )
    assert per_1k["usd_per_1k_predictions"] == pytest.approx(0.0364 / (20 * 3600 * 0.5) * 1000)
    breakeven = json.loads(
        run(
            "cost",
            "breakeven",
            "--instance",
            "c6i.large",
            "--memory-gb",
            "2",
            "--duration-ms",
            "50",
            "--json",
            home=home,
        ).stdout
    )
    assert {r["provider"] for r in breakeven["results"]} == {"aws", "gcp"}
    tco = json.loads(
        run(
            "cost",
            "tco",
            "--compute-usd",
            "100",
            "--storage-usd",
            "20",
            "--value-usd",
            "240",
            "--json",
            home=home,
        ).stdout
    )
    assert tco["total_usd"] == 120 and tco["roi"] == pytest.approx(1.0)


FIXTURES = Path(__file__).resolve().parents[1] / "catalog" / "fixtures"


@pytest.mark.parametrize(
    ("fixture", "location"),
    [
        ("skypilot-bad-price.csv", "skypilot-bad-price.csv:3:"),
        ("aws-price-list-bad.json", "aws-price-list-bad.json:11:"),
        ("skypilot-zone-region.csv", "skypilot-zone-region.csv:"),
    ],
)
def test_a_malformed_import_fails_with_a_line_and_leaves_the_catalog_unchanged(
    home: Path, fixture: str, location: str
) -> None:
    before = run("catalog", "list", "--limit", "500", "--json", home=home).stdout
    result = run("catalog", "import", str(FIXTURES / fixture), home=home, check=False)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {location}")
    assert len(result.stderr.strip().splitlines()) == 1
    assert run("catalog", "list", "--limit", "500", "--json", home=home).stdout == before


def test_import_refreshes_prices_and_marks_them_imported(home: Path) -> None:
    dry = run(
        "catalog", "import", str(FIXTURES / "aws-price-list-us-east-1.json"), "--dry-run", home=home
    ).stdout
    assert "would import" in dry
    assert (
        not (home / "mlcost.db").exists()
        or "imported" not in run("catalog", "list", home=home).stdout
    )
    run("catalog", "import", str(FIXTURES / "aws-price-list-us-east-1.json"), home=home)
    rows = json.loads(
        run("catalog", "show", "g4dn.xlarge", "--region", "us-east-1", "--json", home=home).stdout
    )
    offer = rows[0]["offer"]
    assert offer["origin"] == "imported"
    assert offer["source"].startswith("imported from aws-price-list-us-east-1.json")
    assert offer["spot_usd_per_hour"] == 0.2  # the Price List has no spot: the shipped one stays
    assert offer["interruption_bucket"] == "15-20%"
