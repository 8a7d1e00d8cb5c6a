"""Read a YAML file into a pydantic model, with every error on one line that names its line.

Any stage reading a hand-written YAML file (workload.yaml, serve.yaml, ...) calls
``load_yaml_model`` with its model, its MlcostError subclass and the examples to
suggest. An error reads ``FILE:LINE: field.path: what is wrong; what to do``.
Lines come from the YAML node tree: each pydantic error location is walked
through the composed nodes, so a value nested three levels deep is reported where
it is written, and a missing key where its parent is. ``yaml_line`` gives the line
of a location for a value found invalid after validation.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar, get_args

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from mlcost.core._errors import MlcostError

_BLAMED_KEY = re.compile(r"^([a-z_]+): (.+)$", re.DOTALL)
_NO_EXAMPLES: Mapping[str, str] = MappingProxyType({})
_NO_INPUT_ONLY_KEYS: Mapping[str, tuple[str, ...]] = MappingProxyType({})

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class _Problem:
    line: int
    where: str
    what: str

    def render(self, file: Path) -> str:
        return f"{file}:{self.line}: {self.where or 'top level'}: {self.what}"


def load_yaml_model(
    path: Path,
    model: type[M],
    *,
    error: type[MlcostError],
    example_file: str,
    examples: Mapping[str, str] = _NO_EXAMPLES,
    input_only_keys: Mapping[str, tuple[str, ...]] = _NO_INPUT_ONLY_KEYS,
    what: str = "the file",
) -> tuple[yaml.Node, M]:
    """Returns the YAML node tree of ``path`` and the validated ``model`` it holds.

    Raises ``error`` with one line, ``FILE:LINE: field.path: what is wrong; what
    to do`` (the first problem by line, with a count of the others), for an
    unreadable file (``cannot read {what}``), text that is not UTF-8, YAML syntax,
    an empty file (``start from {example_file}``), duplicate or unknown keys (with
    the nearest valid one) and wrong values. A missing key suggests
    ``examples[key]`` (else ``key: ...``); ``input_only_keys`` names, by model
    class name, the keys a model accepts besides its fields (converted before
    validation), so an unknown key's "did you mean" can offer them too.
    """
    root, data = parse_yaml(path, error=error, example_file=example_file, what=what)
    problems = _duplicate_keys(root, ())
    if not problems:
        try:
            return root, model.model_validate(data)
        except ValidationError as exc:
            errors = _without_misspelled(exc.errors(include_url=False), model, input_only_keys)
            problems = [
                _explain(root, detail, model, examples, input_only_keys) for detail in errors
            ]
    problems.sort(key=lambda problem: problem.line)
    more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
    raise error(problems[0].render(path) + more)


def parse_yaml(
    path: Path, *, error: type[MlcostError], example_file: str, what: str = "the file"
) -> tuple[yaml.Node, Any]:
    """Returns the composed node tree of ``path`` and the plain data it constructs to.

    Nothing is validated (duplicate keys included). Raises ``error`` with one line
    for an unreadable file, text that is not UTF-8, YAML syntax and an empty file,
    worded as load_yaml_model words them.
    """
    text = _read(path, error, what)
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        raise error(_syntax_message(path, text, exc)) from exc
    except yaml.YAMLError as exc:
        raise error(f"{path}:1: not valid YAML: {exc}; fix the file's encoding") from exc
    finally:
        loader.dispose()
    if root is None:
        raise error(f"{path}:1: the file is empty; start from {example_file}")
    return root, data


def yaml_line(root: yaml.Node, loc: tuple[str | int, ...]) -> int:
    """The line (from 1) of the deepest part of ``loc`` that the YAML under ``root`` has."""
    return _locate(root, loc).line


def file_beside(
    path: Path,
    root: yaml.Node,
    loc: tuple[str, ...],
    given: Path,
    *,
    error: type[MlcostError],
    fix: str,
) -> Path:
    """``given`` (the value at ``loc`` in the YAML file ``path``) taken from the file's folder
    when relative; raises ``error`` naming its line when no file is there (``fix``: what to do)."""
    resolved = given if given.is_absolute() else path.parent / given
    if not resolved.is_file():
        line = yaml_line(root, loc)
        raise error(f"{path}:{line}: {'.'.join(loc)}: no file at {resolved}; {fix}")
    return resolved


def _read(path: Path, error: type[MlcostError], what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{path}: cannot read {what}: {exc.strerror}; check the path") from exc
    except UnicodeDecodeError as exc:
        raise error(f"{path}:1: not valid YAML: not UTF-8 text; save it as UTF-8") from exc


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


def _explain(
    root: yaml.Node,
    error: ErrorDetails,
    model: type[BaseModel],
    examples: Mapping[str, str],
    input_only_keys: Mapping[str, tuple[str, ...]],
) -> _Problem:
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
        example = examples.get(key, f"{key}: ...")
        return _Problem(place.line, _dotted(place.path), f"required, but missing; add `{example}`")
    if kind == "extra_forbidden":
        return _Problem(place.line, _dotted(place.path), _unknown_key(loc, model, input_only_keys))
    return _Problem(
        place.line, _dotted(place.path), f"got {_shown(error['input'])}; {_advice(error)}"
    )


def _without_misspelled(
    errors: list[ErrorDetails],
    model: type[BaseModel],
    input_only_keys: Mapping[str, tuple[str, ...]],
) -> list[ErrorDetails]:
    """Drop "missing" for a key the file misspells: the unknown key's "did you mean" says it."""
    misspelled = set()
    for error in errors:
        if error["type"] == "extra_forbidden":
            loc = tuple(error["loc"])
            close = _closest_key(loc, model, input_only_keys)
            if close is not None:
                misspelled.add((*loc[:-1], close))
    return [e for e in errors if not (e["type"] == "missing" and tuple(e["loc"]) in misspelled)]


def _valid_keys(
    loc: tuple[str | int, ...],
    root_model: type[BaseModel],
    input_only_keys: Mapping[str, tuple[str, ...]],
) -> list[str] | None:
    """The keys the mapping holding ``loc``'s last key accepts (None if unknown)."""
    model = _model_at(loc[:-1], root_model)
    if model is None:
        return None
    return [*model.model_fields, *input_only_keys.get(model.__name__, ())]


def _closest_key(
    loc: tuple[str | int, ...],
    root_model: type[BaseModel],
    input_only_keys: Mapping[str, tuple[str, ...]],
) -> str | None:
    valid = _valid_keys(loc, root_model, input_only_keys) or []
    close = difflib.get_close_matches(str(loc[-1]), valid, n=1)
    return close[0] if close else None


def _unknown_key(
    loc: tuple[str | int, ...],
    root_model: type[BaseModel],
    input_only_keys: Mapping[str, tuple[str, ...]],
) -> str:
    valid = _valid_keys(loc, root_model, input_only_keys)
    if valid is None:
        return "unknown key; remove it"
    close = _closest_key(loc, root_model, input_only_keys)
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
