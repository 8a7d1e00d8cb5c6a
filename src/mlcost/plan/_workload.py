"""Read a workload.yaml into a Workload, with every error on one line that names its line.

A training workload (a top-level ``training:`` section, see ``workload_kind``) is read the
same way into a TrainingWorkload by ``load_training_workload``.

An error reads ``FILE:LINE: field.path: what is wrong; what to do``. Lines come
from the YAML node tree: each pydantic error location is walked through the
composed nodes, so a value nested three levels deep is reported where it is
written, and a missing key where its parent is.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from mlcost.core import PlanError, TrainingWorkload, Workload
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
_BLAMED_KEY = re.compile(r"^([a-z_]+): (.+)$", re.DOTALL)
_TRAINING_KEY = "training"

WorkloadKind = Literal["serving", "training"]
_Model = TypeVar("_Model", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class _Problem:
    line: int
    where: str
    what: str

    def render(self, file: Path) -> str:
        return f"{file}:{self.line}: {self.where or 'top level'}: {self.what}"


def load_workload(path: Path) -> Workload:
    """Returns the validated Workload in a workload.yaml; a relative trace path is taken from its folder.

    Raises PlanError with one line, ``FILE:LINE: field.path: what is wrong;
    what to do`` (the first problem by line, with a count of the others), for
    unreadable files, YAML syntax, duplicate or unknown keys, wrong values, and
    a trace CSV that is missing or malformed (the CSV's own FILE:LINE then).
    """
    root, workload = _load(path, Workload)
    return _with_trace_resolved(path, root, workload)


def load_training_workload(path: Path) -> TrainingWorkload:
    """Returns the validated TrainingWorkload in a training YAML (a top-level ``training:``).

    Raises PlanError with one line, ``FILE:LINE: field.path: what is wrong; what
    to do``, as load_workload does: unreadable file, YAML syntax, duplicate or unknown
    keys (with the nearest valid one), wrong values, both or neither work form.
    """
    return _load(path, TrainingWorkload)[1]


def workload_kind(path: Path) -> WorkloadKind:
    """Returns "training" when the file's top level has a ``training`` key, else "serving".

    Only the top-level keys decide, so a serving file with a typo still reads as
    serving and gets load_workload's message. Raises PlanError (one line) when the
    file cannot be read or is not valid YAML.
    """
    root, _ = _parse(path, _read(path), "examples/workload.yaml or examples/training.yaml")
    keys = [key.value for key, _ in root.value] if isinstance(root, yaml.MappingNode) else []
    return "training" if _TRAINING_KEY in keys else "serving"


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError(
            f"{path}: cannot read the workload: {exc.strerror}; check the path"
        ) from exc
    except UnicodeDecodeError as exc:
        raise PlanError(f"{path}:1: not valid YAML: not UTF-8 text; save it as UTF-8") from exc


def _load(path: Path, model: type[_Model]) -> tuple[yaml.Node, _Model]:
    """The node tree and the validated ``model``; PlanError with the first problem by line."""
    example = "examples/training.yaml" if model is TrainingWorkload else "examples/workload.yaml"
    root, data = _parse(path, _read(path), example)
    problems = _duplicate_keys(root, ())
    if not problems:
        try:
            return root, model.model_validate(data)
        except ValidationError as exc:
            errors = _without_misspelled(exc.errors(include_url=False), model)
            problems = [_explain(root, error, model) for error in errors]
    problems.sort(key=lambda problem: problem.line)
    more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
    raise PlanError(problems[0].render(path) + more)


def _parse(path: Path, text: str, example: str = "examples/workload.yaml") -> tuple[yaml.Node, Any]:
    """The composed node tree and the plain data it constructs to."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        raise PlanError(_syntax_message(path, text, exc)) from exc
    except yaml.YAMLError as exc:
        raise PlanError(f"{path}:1: not valid YAML: {exc}; fix the file's encoding") from exc
    finally:
        loader.dispose()
    if root is None:
        raise PlanError(f"{path}:1: the file is empty; start from {example}")
    return root, data


def _syntax_message(path: Path, text: str, exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = exc.problem or exc.context or "cannot be parsed"
    lines = text.splitlines()
    if "\\t" in problem or (line <= len(lines) and "\t" in lines[line - 1]):
        hint = "indent with spaces, not tabs"
    else:
        hint = "check the indentation, colons and quotes here and on the line above"
    return f"{path}:{line}: not valid YAML: {problem} (column {column}); {hint}"


def _duplicate_keys(node: yaml.Node, where: tuple[str | int, ...]) -> list[_Problem]:
    """Keys written twice in one mapping (YAML would keep the last one silently)."""
    problems: list[_Problem] = []
    if isinstance(node, yaml.MappingNode):
        first_line: dict[str, int] = {}
        for key, value in node.value:
            name, line = str(key.value), key.start_mark.line + 1
            if name in first_line:
                what = f"duplicate key (first on line {first_line[name]}); keep one"
                problems.append(_Problem(line, _dotted((*where, name)), what))
            first_line.setdefault(name, line)
            problems += _duplicate_keys(value, (*where, name))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            problems += _duplicate_keys(item, (*where, index))
    return problems


@dataclass(frozen=True, slots=True)
class _Place:
    """Where a pydantic location lands in the YAML: the line, the path as written, the node."""

    line: int
    path: tuple[str | int, ...]
    node: yaml.Node | None


def _locate(root: yaml.Node, loc: tuple[str | int, ...]) -> _Place:
    """Walk ``loc`` through the node tree; stop at the deepest part the YAML has."""
    node: yaml.Node | None = root
    line, path = root.start_mark.line + 1, tuple[str | int, ...]()
    for index, part in enumerate(loc):
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            found = next(((k, v) for k, v in node.value if k.value == part), None)
            if found is None:  # a missing key: report it under its parent
                return _Place(line, (*path, *loc[index:]), None)
            line, node, path = found[0].start_mark.line + 1, found[1], (*path, part)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                return _Place(line, (*path, part), None)
            node = node.value[part]
            line, path = node.start_mark.line + 1, (*path, part)
        elif isinstance(part, str) and isinstance(node, yaml.SequenceNode):
            continue  # a model key the YAML does not spell: a list given for a model
        else:
            return _Place(line, (*path, *loc[index:]), None)
    return _Place(line, path, node)


def _explain(root: yaml.Node, error: ErrorDetails, model: type[BaseModel]) -> _Problem:
    """One problem: its line, its path as the user wrote it, and what to do."""
    loc = tuple(error["loc"])
    place = _locate(root, loc)
    kind, message = error["type"], error["msg"]
    if kind == "value_error":
        message = message.removeprefix("Value error, ")
        blamed = _BLAMED_KEY.match(message)
        if blamed and isinstance(place.node, yaml.MappingNode):
            place = _locate(root, (*loc, blamed.group(1)))
            message = blamed.group(2)
        return _Problem(place.line, _dotted(place.path), message)
    if kind == "missing":
        key = str(loc[-1])
        example = _EXAMPLES.get(key, f"{key}: ...")
        return _Problem(place.line, _dotted(place.path), f"required, but missing; add `{example}`")
    if kind == "extra_forbidden":
        return _Problem(place.line, _dotted(place.path), _unknown_key(loc, model))
    return _Problem(
        place.line, _dotted(place.path), f"got {_shown(error['input'])}; {_advice(error)}"
    )


def _without_misspelled(errors: list[ErrorDetails], model: type[BaseModel]) -> list[ErrorDetails]:
    """Drop "missing" for a key the file misspells: the unknown key's "did you mean" says it."""
    misspelled = set()
    for error in errors:
        if error["type"] == "extra_forbidden":
            loc = tuple(error["loc"])
            close = _closest_key(loc, model)
            if close is not None:
                misspelled.add((*loc[:-1], close))
    return [e for e in errors if not (e["type"] == "missing" and tuple(e["loc"]) in misspelled)]


def _valid_keys(loc: tuple[str | int, ...], root_model: type[BaseModel]) -> list[str] | None:
    """The keys the mapping holding ``loc``'s last key accepts (None if unknown)."""
    model = _model_at(loc[:-1], root_model)
    if model is None:
        return None
    return [*model.model_fields, *_INPUT_ONLY_KEYS.get(model.__name__, ())]


def _closest_key(loc: tuple[str | int, ...], root_model: type[BaseModel]) -> str | None:
    close = difflib.get_close_matches(str(loc[-1]), _valid_keys(loc, root_model) or [], n=1)
    return close[0] if close else None


def _unknown_key(loc: tuple[str | int, ...], root_model: type[BaseModel]) -> str:
    valid = _valid_keys(loc, root_model)
    if valid is None:
        return "unknown key; remove it"
    close = _closest_key(loc, root_model)
    if close is not None:
        return f"unknown key; did you mean {close}?"
    return f"unknown key; the keys here are {', '.join(valid)}"


def _model_at(loc: tuple[str | int, ...], root_model: type[BaseModel]) -> type[BaseModel] | None:
    """The model validating the mapping at ``loc`` (list indexes are skipped)."""
    model = root_model
    for part in loc:
        if not isinstance(part, str):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        inner = [t for t in (field.annotation, *get_args(field.annotation)) if _is_model(t)]
        if not inner:
            return None
        model = inner[0]
    return model


def _is_model(value: object) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _advice(error: ErrorDetails) -> str:
    """What to do, from pydantic's "Input should be ..." message."""
    kind, message = error["type"], error["msg"]
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "give a mapping (key: value lines)"
    if kind in ("float_parsing", "float_type"):
        return "give a number"
    if kind in ("tuple_type", "list_type"):
        return "give a list ([a, b] or '- item' lines)"
    if kind in ("int_from_float", "int_parsing", "int_type"):
        return "give a whole number"
    if kind in ("bool_type", "bool_parsing"):
        return "give true or false"
    if kind == "path_type":
        return "give a file path"
    if kind == "string_pattern_mismatch":
        return "give a name without spaces"
    if kind == "string_too_short":
        return "give a non-empty value"
    rest = message.removeprefix("Input should be ")
    if rest == message:
        return message[:1].lower() + message[1:]
    if rest.startswith(("greater", "less")):
        rest = f"a number {rest}"
    advice = f"give {rest}"
    if kind == "literal_error":
        expected = re.findall(r"'([^']*)'", str(error.get("ctx", {}).get("expected", "")))
        close = difflib.get_close_matches(str(error["input"]), expected, n=1)
        if close:
            advice += f" (did you mean {close[0]}?)"
    return advice


def _shown(value: Any) -> str:
    """A YAML value as the user would recognise it, kept short."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _dotted(path: tuple[str | int, ...]) -> str:
    return ".".join(str(part) for part in path)


def _with_trace_resolved(path: Path, root: yaml.Node, workload: Workload) -> Workload:
    """The workload with its trace path taken from the YAML's folder, checked by reading it."""
    trace = workload.traffic.trace
    if trace is None:
        return workload
    resolved = trace if trace.is_absolute() else path.parent / trace
    if not resolved.is_file():
        line = _locate(root, ("traffic", "trace")).line
        raise PlanError(
            f"{path}:{line}: traffic.trace: no file at {resolved}; "
            f"give a path relative to the folder of {path.name}, or an absolute one"
        )
    read_trace(resolved)  # a malformed trace fails now, with the CSV's own FILE:LINE
    traffic = workload.traffic.model_copy(update={"trace": resolved})
    return workload.model_copy(update={"traffic": traffic})
