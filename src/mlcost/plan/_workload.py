"""Read a workload.yaml into a Workload, with every error on one line that names its line.

A training workload (a top-level ``training:`` section, see ``workload_kind``) is read the
same way into a TrainingWorkload by ``load_training_workload``.

An error reads ``FILE:LINE: field.path: what is wrong; what to do`` and is a
PlanError. The reading, the YAML line of each pydantic error and the wording are
core's ``load_yaml_model``; this module adds what a workload needs: the keys to
suggest when one is missing, the keys Traffic converts before validation, and the
trace CSV checked from the workload's folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml

from mlcost.core import (
    PlanError,
    TrainingWorkload,
    Workload,
    file_beside,
    load_yaml_model,
    parse_yaml,
)
from mlcost.plan._traffic import read_trace

# What to add when a required key is missing.
_EXAMPLES = {
    "traffic": "traffic: {requests_per_day: 1000000}",
    "slo": "slo: {latency_ms: 150}",
    "latency_ms": "latency_ms: 150",
    "provider": "provider: aws",
    "region": "region: us-east-1",
    "instance_type": "instance_type: g4dn.xlarge",
    "count": "count: 5",
    "training": "training: {provider: aws, region: us-east-1, instance_type: g5.xlarge, ...}",
    "checkpoint_write_s": "checkpoint_write_s: 60",
    "restore_s": "restore_s: 90",
}
# Keys a model accepts besides its fields (converted before validation).
_INPUT_ONLY_KEYS = {"Traffic": ("payload_in_kb", "payload_out_kb")}
_TRAINING_KEY = "training"
_WHAT = "the workload"

WorkloadKind = Literal["serving", "training"]


def load_workload(path: Path) -> Workload:
    """Returns the validated Workload in a workload.yaml; a relative trace path is taken from its folder.

    Raises PlanError with one line, ``FILE:LINE: field.path: what is wrong;
    what to do`` (the first problem by line, with a count of the others), for
    unreadable files, YAML syntax, duplicate or unknown keys, wrong values, and
    a trace CSV that is missing or malformed (the CSV's own FILE:LINE then).
    """
    root, workload = load_yaml_model(
        path,
        Workload,
        error=PlanError,
        example_file="examples/workload.yaml",
        examples=_EXAMPLES,
        input_only_keys=_INPUT_ONLY_KEYS,
        what=_WHAT,
    )
    return _with_trace_resolved(path, root, workload)


def load_training_workload(path: Path) -> TrainingWorkload:
    """Returns the validated TrainingWorkload in a training YAML (a top-level ``training:``).

    Raises PlanError with one line, ``FILE:LINE: field.path: what is wrong; what
    to do``, as load_workload does: unreadable file, YAML syntax, duplicate or unknown
    keys (with the nearest valid one), wrong values, both or neither work form.
    """
    return load_yaml_model(
        path,
        TrainingWorkload,
        error=PlanError,
        example_file="examples/training.yaml",
        examples=_EXAMPLES,
        input_only_keys=_INPUT_ONLY_KEYS,
        what=_WHAT,
    )[1]


def workload_kind(path: Path) -> WorkloadKind:
    """Returns "training" when the file's top level has a ``training`` key, else "serving".

    Only the top-level keys decide, so a serving file with a typo still reads as
    serving and gets load_workload's message. Raises PlanError (one line) when the
    file cannot be read or is not valid YAML.
    """
    root, _ = parse_yaml(
        path,
        error=PlanError,
        example_file="examples/workload.yaml or examples/training.yaml",
        what=_WHAT,
    )
    keys = [key.value for key, _ in root.value] if isinstance(root, yaml.MappingNode) else []
    return "training" if _TRAINING_KEY in keys else "serving"


def _with_trace_resolved(path: Path, root: yaml.Node, workload: Workload) -> Workload:
    """The workload with its trace path taken from the YAML's folder, checked by reading it."""
    trace = workload.traffic.trace
    if trace is None:
        return workload
    resolved = file_beside(
        path,
        root,
        ("traffic", "trace"),
        trace,
        error=PlanError,
        fix=f"give a path relative to the folder of {path.name}, or an absolute one",
    )
    read_trace(resolved)  # a malformed trace fails now, with the CSV's own FILE:LINE
    traffic = workload.traffic.model_copy(update={"trace": resolved})
    return workload.model_copy(update={"traffic": traffic})
