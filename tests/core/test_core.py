"""Atomic writes, optional dependencies, the workspace, the error tree."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from mlcost.core import (
    CatalogImportError,
    MissingDependencyError,
    MlcostError,
    StoreError,
    Workspace,
    require,
    write_bytes_atomic,
    write_text_atomic,
)


def test_atomic_write_replaces_the_whole_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "state.json"
    write_text_atomic(target, "old")
    write_bytes_atomic(target, b"new content")
    assert target.read_bytes() == b"new content"
    assert sorted(p.name for p in target.parent.iterdir()) == ["state.json"]


def test_an_atomic_write_gets_the_mode_a_plain_open_gives(tmp_path: Path) -> None:
    """Not mkstemp's 0600: a plan or a report is read by others (the umask decides)."""
    old = os.umask(0o027)
    try:
        write_text_atomic(tmp_path / "report.html", "<html></html>")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "report.html").stat().st_mode) == 0o640


def test_a_failed_atomic_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    write_text_atomic(target, "old")

    with pytest.raises(TypeError):
        write_bytes_atomic(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_missing_optional_dependency_names_the_extra() -> None:
    with pytest.raises(MissingDependencyError) as info:
        require("torch_that_does_not_exist.nn", extra="train", purpose="mlcost train")
    message = str(info.value)
    assert "torch_that_does_not_exist is needed for mlcost train" in message
    assert "pip install 'mlcost[train]'" in message
    assert require("json", extra="x", purpose="y").dumps([1]) == "[1]"


def test_workspace_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLCOST_HOME", str(tmp_path / "env"))
    monkeypatch.delenv("MLCOST_DB_URL", raising=False)
    assert Workspace.resolve().home == tmp_path / "env"
    assert Workspace.resolve(tmp_path / "flag").home == tmp_path / "flag"
    monkeypatch.delenv("MLCOST_HOME")
    assert Workspace.resolve().home == Path.home() / ".mlcost"
    ws = Workspace.resolve(tmp_path / "flag").ensure()
    assert ws.artifacts_dir.is_dir()
    assert ws.db_url == f"sqlite:///{tmp_path / 'flag' / 'mlcost.db'}"
    monkeypatch.setenv("MLCOST_DB_URL", "postgresql://db/mlcost")
    assert ws.db_url == "postgresql://db/mlcost"


def test_workspace_under_a_file_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError, match="cannot create the workspace"):
        Workspace(blocker / "ws").ensure()


def test_error_tree_has_one_root() -> None:
    assert issubclass(CatalogImportError, MlcostError)
    assert issubclass(StoreError, MlcostError)
    assert issubclass(MissingDependencyError, MlcostError)
