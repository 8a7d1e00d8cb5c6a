"""Rendered objects to a folder: one YAML file per object, in apply order, swapped in whole."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlcost.core import staged_folder


def manifest_name(index: int, obj: dict[str, Any]) -> str:
    """``03-deployment-sentiment-api.yaml``: the apply order, the kind and the name."""
    return f"{index:02d}-{str(obj['kind']).lower()}-{obj['metadata']['name']}.yaml"


def write_manifests(
    folder: Path, objects: Sequence[dict[str, Any]], notes: Sequence[str]
) -> list[Path]:
    """Write each object to its own file (``kubectl apply -f folder`` reads them in order) and
    the notes to NOTES.md. The folder is replaced as a whole: a crash leaves the old one."""
    import yaml

    with staged_folder(folder) as staging:
        for index, obj in enumerate(objects, start=1):
            (staging / manifest_name(index, obj)).write_text(
                yaml.safe_dump(obj, sort_keys=False), encoding="utf-8"
            )
        lines = ["# What these manifests rest on", "", *(f"- {note}" for note in notes), ""]
        (staging / "NOTES.md").write_text("\n".join(lines), encoding="utf-8")
    return [folder / manifest_name(i, obj) for i, obj in enumerate(objects, start=1)]
