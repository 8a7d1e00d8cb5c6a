"""Strict schema validation of rendered objects, offline.

Built-in kinds go through kubernetes-validate (the Kubernetes OpenAPI schemas
of a stated version ship in the package, strict: an unknown field fails).
Custom resources go through jsonschema against their published CRD schemas,
laid out as ``{group}/{kind}_{version}.json`` (the datreeio CRDs-catalog
layout kubeconform reads), from a folder the caller names.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mlcost.core import DeployError, MissingDependencyError


def validate_objects(
    objects: Iterable[dict[str, Any]], *, kubernetes_version: str, crd_schemas: Path | None
) -> list[str]:
    """One line per object that breaks its schema (empty: all valid).

    A custom resource whose schema is not in ``crd_schemas`` is an error too:
    nothing rendered goes unchecked. ``crd_schemas`` None: custom resources are
    skipped (the caller says they were not checked); built-in kinds are always checked.
    """
    try:
        import jsonschema
        import kubernetes_validate
        from kubernetes_validate.utils import SchemaNotFoundError
    except ImportError as exc:
        raise MissingDependencyError(
            "validating manifests needs kubernetes-validate: pip install 'mlcost[deploy]'"
        ) from exc
    problems: list[str] = []
    for obj in objects:
        what = f"{obj.get('kind', '?')}/{obj.get('metadata', {}).get('name', '?')}"
        group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
        try:
            kubernetes_validate.validate(obj, kubernetes_version, strict=True)
            continue
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path) or "(top)"
            problems.append(f"{what}: {path}: {exc.message}")
            continue
        except SchemaNotFoundError:
            pass  # a custom resource: its CRD schema below
        if not group:
            problems.append(f"{what}: no schema for apiVersion {obj.get('apiVersion')!r}")
            continue
        if crd_schemas is None:
            continue
        schema_file = crd_schemas / group / f"{str(obj['kind']).lower()}_{version}.json"
        if not schema_file.is_file():
            problems.append(f"{what}: no CRD schema at {schema_file}")
            continue
        schema = json.loads(schema_file.read_text(encoding="utf-8"))
        validator = jsonschema.Draft7Validator(schema)
        for error in sorted(validator.iter_errors(obj), key=lambda e: list(e.path))[:3]:
            path = ".".join(str(p) for p in error.path) or "(top)"
            problems.append(f"{what}: {path}: {error.message}")
    return problems


def require_valid(
    objects: Iterable[dict[str, Any]], *, kubernetes_version: str, crd_schemas: Path | None
) -> None:
    """Raise DeployError naming the first problems when any object breaks its schema."""
    problems = validate_objects(
        objects, kubernetes_version=kubernetes_version, crd_schemas=crd_schemas
    )
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise DeployError("; ".join(problems[:3]) + more)
