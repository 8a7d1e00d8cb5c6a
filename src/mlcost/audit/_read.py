"""Manifests read from files, folders and ``helm template`` output, each object with its line.

A file that cannot be read (malformed YAML, not Kubernetes at all) becomes a
``FileProblem`` and the others are still read: an audit of a repository must not
stop at its first broken chart. Documents without ``apiVersion`` and ``kind``
(a values file, a workload file) are reported the same way, once per file.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# What a folder is searched for (kubectl apply -f reads the same).
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
STDIN = "-"


@dataclass(frozen=True, slots=True)
class Manifest:
    """One Kubernetes object: its body, the file it came from and the line it starts on."""

    body: dict[str, Any]
    file: str
    line: int

    @property
    def kind(self) -> str:
        return str(self.body.get("kind", ""))

    @property
    def api_version(self) -> str:
        return str(self.body.get("apiVersion", ""))

    @property
    def name(self) -> str:
        return str((self.body.get("metadata") or {}).get("name", ""))

    @property
    def namespace(self) -> str:
        return str((self.body.get("metadata") or {}).get("namespace") or "default")

    @property
    def ref(self) -> str:
        """``Deployment/sentiment-api``: how a finding names the object."""
        return f"{self.kind}/{self.name}"

    @property
    def annotations(self) -> dict[str, str]:
        return dict((self.body.get("metadata") or {}).get("annotations") or {})

    @property
    def spec(self) -> dict[str, Any]:
        spec = self.body.get("spec")
        return spec if isinstance(spec, dict) else {}


@dataclass(frozen=True, slots=True)
class FileProblem:
    """A file (or one document of it) that could not be read as Kubernetes objects."""

    file: str
    line: int
    message: str


@dataclass(frozen=True, slots=True)
class Manifests:
    """Everything read from the paths given: the objects, and the files that failed."""

    objects: tuple[Manifest, ...]
    problems: tuple[FileProblem, ...]
    files: tuple[str, ...]

    def of_kind(self, *kinds: str) -> list[Manifest]:
        return [m for m in self.objects if m.kind in kinds]


def read_manifests(paths: Sequence[str | Path]) -> Manifests:
    """Read every manifest under ``paths`` (files, folders searched recursively, ``-`` for stdin).

    A path that does not exist is a problem of its own, like a malformed file.
    """
    objects: list[Manifest] = []
    problems: list[FileProblem] = []
    files: list[str] = []
    for name, text in _texts(paths, problems):
        files.append(name)
        read, problem = _parse(name, text)
        objects.extend(read)
        if problem is not None:
            problems.append(problem)
    return Manifests(tuple(objects), tuple(problems), tuple(files))


def _texts(paths: Sequence[str | Path], problems: list[FileProblem]) -> Iterator[tuple[str, str]]:
    for path in paths:
        if str(path) == STDIN:
            yield "<stdin>", sys.stdin.read()
            continue
        path = Path(path)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in MANIFEST_SUFFIXES)
            if not found:
                problems.append(FileProblem(str(path), 0, "no .yaml, .yml or .json file in it"))
            yield from _read_files(found, problems)
        elif path.is_file():
            yield from _read_files([path], problems)
        else:
            problems.append(FileProblem(str(path), 0, "no such file or folder"))


def _read_files(paths: Iterable[Path], problems: list[FileProblem]) -> Iterator[tuple[str, str]]:
    for path in paths:
        try:
            yield str(path), path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(FileProblem(str(path), 0, f"cannot be read: {exc}"))


def _parse(name: str, text: str) -> tuple[list[Manifest], FileProblem | None]:
    """The objects of one file; on a YAML error none of them (kubectl would apply none)."""
    import yaml

    objects: list[Manifest] = []
    loader = yaml.SafeLoader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            line = node.start_mark.line + 1
            document = loader.construct_document(node)
            if document is None:
                continue
            if not _is_object(document):
                return [], FileProblem(
                    name, line, "not a Kubernetes manifest (a document without apiVersion and kind)"
                )
            objects.extend(_expand(document, name, line))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else 0
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return [], FileProblem(name, line, f"malformed YAML: {problem}")
    finally:
        loader.dispose()
    return objects, None


def _is_object(document: object) -> bool:
    return isinstance(document, dict) and "apiVersion" in document and "kind" in document


def _expand(document: dict[str, Any], name: str, line: int) -> list[Manifest]:
    """A ``kind: List`` (``kubectl get -o yaml``) is its items."""
    if document.get("kind") == "List" and isinstance(document.get("items"), list):
        return [Manifest(item, name, line) for item in document["items"] if _is_object(item)]
    return [Manifest(document, name, line)]
