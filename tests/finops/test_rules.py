"""`mlcost monitor rules`: Prometheus accepts the rule file, and its alerts fire when they should
(promtool test rules on synthetic series); a planted broken rule is rejected."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlcost.cli.plan import plan as plan_command

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plan"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibration_file import write_calibration
from planning_inputs import seed_workspace
from prometheus_process import require_tool
from test_cli import run

ROOT = Path(__file__).resolve().parents[2]
WORKLOAD = "sentiment-api"
POD = f'pod="{WORKLOAD}-5d8f7c9b4-x2x7q", container="serve", gpu="0"'


@pytest.fixture(scope="module")
def rules_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The rules `mlcost monitor rules` writes for the reference plan and a calibration."""
    folder = tmp_path_factory.mktemp("rules")
    plan_file = folder / "plan.json"
    plan_command(
        ROOT / "examples" / "workload.yaml", out=plan_file, home=seed_workspace(folder / "ws")
    )
    cascade = write_calibration(
        folder / "cascade.json", threshold=0.8, escalation_rate=0.2, rows=500
    )
    out = folder / "rules.yaml"
    args = ["--plan", str(plan_file), "--cascade", str(cascade), "--out", str(out)]
    written = run("monitor", "rules", *args, home=folder / "ws").stdout
    assert "7 alerting rules for sentiment-api" in written
    return out


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_tool("promtool"), *args], capture_output=True, text=True, timeout=60, check=False
    )


def _rules(path: Path) -> dict[str, dict[str, Any]]:
    groups = yaml.safe_load(path.read_text())["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"]}


def test_promtool_accepts_every_generated_rule(rules_file: Path) -> None:
    result = _promtool("check", "rules", str(rules_file))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 7 rules found" in result.stdout


def test_promtool_rejects_a_planted_broken_rule(rules_file: Path, tmp_path: Path) -> None:
    rules = yaml.safe_load(rules_file.read_text())
    rules["groups"][0]["rules"][0]["expr"] = "sum(rate(mlcost_predictions_total[5m])"
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(rules))
    result = _promtool("check", "rules", str(broken))
    assert result.returncode != 0
    assert "MlcostGpuUnderutilized" in result.stdout + result.stderr
    assert "parse error" in result.stdout + result.stderr


def test_the_latency_and_gpu_alerts_fire_on_series_that_cross_them(
    rules_file: Path, tmp_path: Path
) -> None:
    """p99 at 199 ms (every request in the 0.1-0.2 s bucket) is over the 150 ms SLO; a GPU at
    10 % (DCGM_FI_DEV_GPU_UTIL, no profiling metrics) is under the 30 % floor."""
    rules = _rules(rules_file)

    def bucket(le: str) -> str:
        return f'mlcost_request_duration_seconds_bucket{{job="{WORKLOAD}", le="{le}"}}'

    def firing(alert: str) -> list[dict[str, Any]]:
        rule = rules[alert]
        return [{"exp_labels": rule["labels"], "exp_annotations": rule["annotations"]}]

    tests = {
        "rule_files": [str(rules_file)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": bucket("0.1"), "values": "0+0x120"},
                    {"series": bucket("0.2"), "values": "0+600x120"},
                    {"series": bucket("+Inf"), "values": "0+600x120"},
                    {"series": f"DCGM_FI_DEV_GPU_UTIL{{{POD}}}", "values": "10x120"},
                ],
                "alert_rule_test": [
                    {"eval_time": "5m", "alertname": "MlcostLatencyOverSlo", "exp_alerts": []},
                    {
                        "eval_time": "20m",
                        "alertname": "MlcostLatencyOverSlo",
                        "exp_alerts": firing("MlcostLatencyOverSlo"),
                    },
                    {
                        "eval_time": "90m",
                        "alertname": "MlcostGpuUnderutilized",
                        "exp_alerts": firing("MlcostGpuUnderutilized"),
                    },
                    {"eval_time": "90m", "alertname": "MlcostCascadeDrift", "exp_alerts": []},
                ],
            }
        ],
    }
    test_file = tmp_path / "alerts_test.yaml"
    test_file.write_text(yaml.safe_dump(tests))
    result = _promtool("test", "rules", str(test_file))
    assert result.returncode == 0, result.stdout + result.stderr
