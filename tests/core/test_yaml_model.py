"""load_yaml_model: a YAML file into a pydantic model, every error on one FILE:LINE line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel, ConfigDict

from mlcost.core import MlcostError, load_yaml_model, parse_yaml, yaml_line


class _ToyError(MlcostError):
    """The error a made-up stage raises."""


class _Limits(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_batch: int
    timeout_s: float = 1.0


class _Toy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    limits: _Limits


def _load(tmp_path: Path, text: str) -> tuple[yaml.Node, _Toy]:
    path = tmp_path / "toy.yaml"
    path.write_text(text, encoding="utf-8")
    return load_yaml_model(
        path,
        _Toy,
        error=_ToyError,
        example_file="examples/toy.yaml",
        examples={"max_batch": "max_batch: 8"},
    )


def _message(tmp_path: Path, text: str) -> str:
    with pytest.raises(_ToyError) as caught:
        _load(tmp_path, text)
    assert type(caught.value) is _ToyError
    return str(caught.value)


def test_a_valid_file_gives_the_model_and_its_node_tree(tmp_path: Path) -> None:
    root, toy = _load(tmp_path, "name: a\nlimits:\n  max_batch: 4\n")
    assert toy == _Toy(name="a", limits=_Limits(max_batch=4))
    assert yaml_line(root, ("limits", "max_batch")) == 3
    assert yaml_line(root, ("limits", "timeout_s")) == 2  # absent: its parent's line


def test_a_wrong_value_is_blamed_on_its_own_line(tmp_path: Path) -> None:
    message = _message(tmp_path, "name: a\nlimits:\n  max_batch: lots\n")
    assert (
        message == f"{tmp_path / 'toy.yaml'}:3: limits.max_batch: got 'lots'; give a whole number"
    )


def test_an_unknown_key_suggests_the_nearest_one(tmp_path: Path) -> None:
    message = _message(tmp_path, "name: a\nlimits:\n  max_bach: 4\n")
    assert (
        message
        == f"{tmp_path / 'toy.yaml'}:3: limits.max_bach: unknown key; did you mean max_batch?"
    )


def test_a_missing_key_suggests_its_example(tmp_path: Path) -> None:
    message = _message(tmp_path, "name: a\nlimits:\n  timeout_s: 2\n")
    expected = "required, but missing; add `max_batch: 8`"
    assert message == f"{tmp_path / 'toy.yaml'}:2: limits.max_batch: {expected}"


def test_a_duplicate_key_names_the_first_line(tmp_path: Path) -> None:
    message = _message(tmp_path, "name: a\nlimits:\n  max_batch: 4\nname: b\n")
    assert message == f"{tmp_path / 'toy.yaml'}:4: name: duplicate key (first on line 1); keep one"


def test_a_syntax_error_names_its_line(tmp_path: Path) -> None:
    message = _message(tmp_path, "name: a\nlimits: x\n  max_batch: 4\n")
    assert message.startswith(
        f"{tmp_path / 'toy.yaml'}:3: not valid YAML: mapping values are not allowed here"
    )


def test_an_empty_or_missing_file_is_one_line_of_the_given_error(tmp_path: Path) -> None:
    empty = _message(tmp_path, "")
    assert empty == f"{tmp_path / 'toy.yaml'}:1: the file is empty; start from examples/toy.yaml"
    missing = tmp_path / "absent.yaml"
    with pytest.raises(_ToyError, match="cannot read the serve file: "):
        parse_yaml(missing, error=_ToyError, example_file="x", what="the serve file")
