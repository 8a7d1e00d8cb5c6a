"""Training workloads: the example loads, both work forms, defaults from the catalog, and
every bad input is one line naming the file, the line, the field, what is wrong and what to do."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from mlcost.catalog import load_catalog
from mlcost.core import PlanError, TrainingJobSpec, TrainingWorkload
from mlcost.plan._training_plan import plan_training_workload
from mlcost.plan._workload import load_training_workload, load_workload, workload_kind

ROOT = Path(__file__).resolve().parents[2]

# Line numbers in the expected messages below count from here.
GOOD = """\
name: finetune
training:
  provider: aws
  region: us-east-1
  instance_type: g5.xlarge
  nodes: 2
  work_gpu_hours: 40
  checkpoint_write_s: 60
  restore_s: 90
  deadline_hours: 30
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "training.yaml"
    path.write_text(text)
    return path


def _error(tmp_path: Path, text: str) -> str:
    path = _write(tmp_path, text)
    with pytest.raises(PlanError) as info:
        load_training_workload(path)
    return str(info.value).replace(str(path), "training.yaml")


def test_the_example_loads_as_a_training_workload() -> None:
    path = ROOT / "examples" / "training.yaml"
    assert workload_kind(path) == "training"
    assert workload_kind(ROOT / "examples" / "workload.yaml") == "serving"
    workload = load_training_workload(path)
    spec = workload.training
    assert workload.name == "sentiment-finetune"
    assert (spec.provider, spec.region, spec.instance_type, spec.nodes) == (
        "aws",
        "us-east-1",
        "g5.xlarge",
        2,
    )
    assert (spec.work_gpu_hours, spec.work_hours) == (40.0, None)
    assert (spec.checkpoint_write_s, spec.restore_s, spec.replacement_delay_s) == (60, 90, 180)
    assert (spec.deadline_hours, spec.interruptions_per_node_hour) == (30.0, None)


def test_a_minimal_training_workload_gets_the_documented_defaults(tmp_path: Path) -> None:
    text = (
        "training: {provider: aws, region: us-east-1, instance_type: g5.xlarge,\n"
        "  work_hours: 5, checkpoint_write_s: 30, restore_s: 0}\n"
    )
    workload = load_training_workload(_write(tmp_path, text))
    spec = workload.training
    assert workload.name is None
    assert spec.nodes == 1
    assert spec.replacement_delay_s == 180.0
    assert spec.interruptions_per_node_hour is None
    assert spec.deadline_hours is None
    assert spec.checkpoint_interval_min is None


def test_gpu_hours_are_divided_by_every_gpu_and_wall_hours_are_taken_as_they_are(
    tmp_path: Path,
) -> None:
    catalog = load_catalog()
    by_gpu_hours = load_training_workload(_write(tmp_path, GOOD))
    assert plan_training_workload(by_gpu_hours, catalog, runs=200).job.work_hours == 20.0
    four_gpus = GOOD.replace("g5.xlarge", "g5.12xlarge")  # 4 x A10G per node
    plan = plan_training_workload(load_training_workload(_write(tmp_path, four_gpus)), catalog)
    assert (plan.gpus_per_node, plan.job.work_hours) == (4, 5.0)
    by_wall = GOOD.replace("work_gpu_hours: 40", "work_hours: 20")
    wall = plan_training_workload(load_training_workload(_write(tmp_path, by_wall)), catalog)
    assert wall.job.work_hours == 20.0


def test_the_interruption_rate_defaults_to_the_catalog_bucket_upper_edge(tmp_path: Path) -> None:
    catalog = load_catalog()
    over_20 = plan_training_workload(load_training_workload(_write(tmp_path, GOOD)), catalog)
    assert over_20.offer.interruption_bucket == ">20%"
    # The open bucket is planned at 50 % of nodes interrupted a month (deliberately pessimistic).
    assert over_20.interruptions_per_node_hour == pytest.approx(-math.log(0.5) / 730)
    assert "bucket >20%" in over_20.interruption_rate_source
    assert "p = 50% (no upper edge: deliberately pessimistic)" in over_20.interruption_rate_source
    assert "trailing month as of 2025-06-28" in over_20.interruption_rate_source
    eu = GOOD.replace("us-east-1", "eu-west-1")
    ten_15 = plan_training_workload(load_training_workload(_write(tmp_path, eu)), catalog)
    assert ten_15.offer.interruption_bucket == "10-15%"
    assert ten_15.interruptions_per_node_hour == pytest.approx(-math.log(0.85) / 730)
    assert "p = 15% (the bucket's upper edge)" in ten_15.interruption_rate_source
    given = GOOD + "  interruptions_per_node_hour: 0.01\n"
    plan = plan_training_workload(load_training_workload(_write(tmp_path, given)), catalog)
    assert plan.interruptions_per_node_hour == 0.01
    assert plan.interruption_rate_source == "training.interruptions_per_node_hour in the workload"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "  nodes: 2\n",
            "  nodes: 2\n  work_hours: 20\n",
            "training.yaml:7: training.work_hours: work_gpu_hours is given too; give GPU-hours "
            "of compute or wall hours on all nodes, not both",
        ),
        (
            "  work_gpu_hours: 40\n",
            "",
            "training.yaml:2: training.work_gpu_hours: missing; give the GPU-hours of compute "
            "(e.g. work_gpu_hours: 40) or the wall hours on all nodes (work_hours: 20)",
        ),
        (
            "nodes: 2",
            "nodes: 0",
            "training.yaml:6: training.nodes: got 0; give a number greater than or equal to 1",
        ),
        ("nodes: 2", "nodes: 1.5", "training.yaml:6: training.nodes: got 1.5; give a whole number"),
        (
            "checkpoint_write_s: 60",
            "checkpoint_write: 60",
            "training.yaml:8: training.checkpoint_write: unknown key; "
            "did you mean checkpoint_write_s?",
        ),
        (
            "provider: aws",
            "provider: awss",
            "training.yaml:3: training.provider: got 'awss'; give 'aws', 'gcp' or 'azure' "
            "(did you mean aws?)",
        ),
        (
            "deadline_hours: 30",
            "deadline_hours: true",
            "training.yaml:10: training.deadline_hours: got true; give a number",
        ),
        (
            "deadline_hours: 30",
            "deadline_hours: -1",
            "training.yaml:10: training.deadline_hours: got -1; give a number greater than 0",
        ),
        (
            "  restore_s: 90\n",
            "",
            "training.yaml:2: training.restore_s: required, but missing; add `restore_s: 90`",
        ),
        ("name:", "nmae:", "training.yaml:1: nmae: unknown key; did you mean name?"),
        (
            "  deadline_hours: 30\n",
            "  deadline_hours: 30\n  restore_s: 80\n",
            "training.yaml:11: training.restore_s: duplicate key (first on line 9); keep one",
        ),
    ],
)
def test_each_bad_input_is_one_line_that_says_where_and_what_to_do(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    assert old in GOOD
    message = _error(tmp_path, GOOD.replace(old, new, 1))
    assert message == expected
    assert "\n" not in message


def test_a_serving_section_in_a_training_file_is_pointed_at(tmp_path: Path) -> None:
    message = _error(tmp_path, GOOD + "traffic: {requests_per_day: 1000}\n")
    assert message == (
        "training.yaml:11: traffic: a serving section in a training workload; "
        "put the serving workload in its own file"
    )


def test_an_empty_or_unreadable_file_says_what_to_do(tmp_path: Path) -> None:
    assert _error(tmp_path, "") == (
        "training.yaml:1: the file is empty; start from examples/training.yaml"
    )
    assert _error(tmp_path, "training: [1, 2]\n") == (
        "training.yaml:1: training: got a list; give a mapping (key: value lines)"
    )
    path = _write(tmp_path, GOOD.replace("  nodes: 2", "\tnodes: 2"))
    with pytest.raises(PlanError, match=r"training.yaml:6: not valid YAML: .*tabs$"):
        workload_kind(path)
    with pytest.raises(PlanError, match="cannot read the workload"):
        workload_kind(tmp_path / "missing.yaml")


def test_workload_kind_is_decided_by_a_top_level_training_key(tmp_path: Path) -> None:
    assert workload_kind(_write(tmp_path, "name: x\ntraffic: {requests_per_day: 5}\n")) == "serving"
    assert workload_kind(_write(tmp_path, "- training\n")) == "serving"
    nested = "slo: {latency_ms: 9}\ntraffic: {requests_per_day: 5, training: 1}\n"
    assert workload_kind(_write(tmp_path, nested)) == "serving"
    assert workload_kind(_write(tmp_path, GOOD)) == "training"


def test_the_serving_loader_keeps_pointing_at_a_misspelled_required_key(tmp_path: Path) -> None:
    path = _write(tmp_path, "traffic: {requests_per_day: 5}\nslo: {latency_m: 150}\n")
    with pytest.raises(PlanError) as info:
        load_workload(path)
    assert str(info.value) == f"{path}:2: slo.latency_m: unknown key; did you mean latency_ms?"


def test_the_models_refuse_what_the_loader_would_refuse() -> None:
    spec = {
        "provider": "aws",
        "region": "r",
        "instance_type": "t",
        "work_hours": 1,
        "checkpoint_write_s": 1,
        "restore_s": 0,
    }
    assert TrainingJobSpec.model_validate(spec).nodes == 1
    with pytest.raises(ValueError, match="work_hours: work_gpu_hours is given too"):
        TrainingJobSpec.model_validate({**spec, "work_gpu_hours": 2})
    with pytest.raises(ValueError, match="extra"):
        TrainingWorkload.model_validate({"training": spec, "horizon": 3})
