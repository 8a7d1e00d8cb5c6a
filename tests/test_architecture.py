"""The shape of the package: dependency order between stages, and the public surface."""

from __future__ import annotations

import importlib
import os
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import mlcost

ROOT = Path(__file__).resolve().parents[1]
STAGES = [
    "core",
    "catalog",
    "cost",
    "runtime",
    "train",
    "compress",
    "profile",
    "plan",
    "serve",
    "deploy",
    "audit",
    "finops",
    "report",
    "cli",
]


def test_stages_import_only_from_stages_above_them() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--config", str(ROOT / "pyproject.toml")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_every_stage_package_is_in_the_layers_contract() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    packages = {m.name for m in pkgutil.iter_modules(mlcost.__path__) if m.ispkg}
    assert packages == set(STAGES)
    for stage in STAGES:
        assert f'"mlcost.{stage}"' in text


@pytest.mark.parametrize("stage", STAGES)
def test_all_lists_exactly_the_public_names(stage: str) -> None:
    module = importlib.import_module(f"mlcost.{stage}")
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and getattr(value, "__module__", "").startswith(f"mlcost.{stage}")
        and not isinstance(value, type(sys))
    }
    assert set(module.__all__) >= public
    for name in module.__all__:
        assert hasattr(module, name), name


@pytest.mark.parametrize("stage", STAGES)
def test_stage_docstring_says_input_and_output(stage: str) -> None:
    doc = importlib.import_module(f"mlcost.{stage}").__doc__ or ""
    assert "Input:" in doc and "Output:" in doc


def test_a_lower_stage_importing_a_higher_one_breaks_the_contract(tmp_path: Path) -> None:
    """The contract is not vacuous: in a copy of the package, core importing cli fails it."""
    shutil.copytree(ROOT / "src" / "mlcost", tmp_path / "mlcost")
    probe = tmp_path / "mlcost" / "core" / "_layer_violation_probe.py"
    probe.write_text("from mlcost.cli import app  # noqa: F401\n")
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        check=False,
    )
    assert result.returncode != 0
    assert "mlcost.core._layer_violation_probe -> mlcost.cli" in result.stdout
