"""Check a model folder and labelled data against each other, before any compression work."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlcost.core import CompressError, require
from mlcost.train import LabelledData, Split, load_data, split_indices

# Methods in the order they are built; later ones build on earlier ones.
METHODS = ("onnx", "int8-dynamic", "int8-static", "fp16", "pruned", "distilled")
_GENERIC_LABEL = re.compile(r"^LABEL_\d+$")


@dataclass(frozen=True, slots=True)
class Inputs:
    """A model and data that fit each other, and the split every variant is judged on.

    ``columns`` are (text column, label column, encoding) as given for ``data_spec``.
    ``labels`` are the data's labels as the model's class ids. ``split`` is the
    model's own (``split.json`` beside a folder from ``mlcost train``) when it
    fits the data, so test rows were never trained on; else a new stratified one.
    """

    model_dir: Path
    data_spec: str
    columns: tuple[str, str, str]
    data: LabelledData
    labels: tuple[int, ...]
    split: Split
    split_origin: str
    max_length: int
    num_heads: int
    hidden_size: int
    num_layers: int
    is_label_order_data_order: bool


def check_inputs(
    model_dir: Path,
    data_spec: str,
    *,
    text_column: str = "text",
    label_column: str = "label",
    encoding: str = "utf-8",
    seed: int = 42,
) -> Inputs:
    """Load the model's config and tokenizer and the data, and check they fit.

    Raises CompressError (or TrainError for unreadable data) naming what to
    fix: no model folder, not a sequence classifier, no tokenizer, labels that
    differ from the model's.
    """
    config = _read_config(model_dir)
    _check_tokenizer(model_dir)
    data = load_data(
        data_spec, text_column=text_column, label_column=label_column, encoding=encoding
    )
    model_names = _model_label_names(config)
    if len(model_names) != len(data.label_names):
        raise CompressError(
            f"the model predicts {len(model_names)} classes ({', '.join(model_names)}) but "
            f"{data.source} has {len(data.label_names)} ({', '.join(data.label_names)}); "
            "pass the data the model was trained on, or another --label-column"
        )
    if all(_GENERIC_LABEL.match(name) for name in model_names):
        to_model = list(
            range(len(data.label_names))
        )  # unnamed classes: sorted data labels, in order
    elif set(model_names) == set(data.label_names):
        to_model = [model_names.index(name) for name in data.label_names]
    else:
        raise CompressError(
            f"the model's labels ({', '.join(model_names)}) do not match the labels in "
            f"{data.source} ({', '.join(data.label_names)}); pass matching data or another --label-column"
        )
    split, origin = _split_for(model_dir, data, seed)
    return Inputs(
        model_dir=model_dir,
        data_spec=data_spec,
        columns=(text_column, label_column, encoding),
        data=data,
        labels=tuple(to_model[label] for label in data.labels),
        split=split,
        split_origin=origin,
        max_length=_max_length(model_dir, config),
        num_heads=int(config.get("num_attention_heads", 0)),
        hidden_size=int(config.get("hidden_size", 0)),
        num_layers=int(config.get("num_hidden_layers", 0)),
        is_label_order_data_order=to_model == sorted(to_model),
    )


def _read_config(model_dir: Path) -> dict[str, Any]:
    path = model_dir / "config.json"
    if not path.is_file():
        raise CompressError(
            f"{model_dir} is not a Hugging Face model folder (no config.json); "
            "pass a folder saved with save_pretrained, e.g. the model/ folder of mlcost train"
        )
    try:
        config: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CompressError(f"cannot read {path}: {exc}; is the folder complete?") from exc
    architectures = config.get("architectures") or []
    if not any(str(a).endswith("ForSequenceClassification") for a in architectures):
        found = ", ".join(map(str, architectures)) or "no architecture"
        raise CompressError(
            f"{model_dir} holds {found}, not a sequence classifier; "
            "fine-tune it into one first with mlcost train --model"
        )
    return config


def _check_tokenizer(model_dir: Path) -> None:
    transformers = require("transformers", extra="train", purpose="mlcost compress")
    # mlcost reports its own progress; transformers' load reports and bars are noise here.
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    try:
        transformers.AutoTokenizer.from_pretrained(model_dir)
    except (OSError, ValueError, TypeError) as exc:
        raise CompressError(
            f"cannot load a tokenizer from {model_dir}: {exc}; save the tokenizer into the model folder"
        ) from exc


def _model_label_names(config: dict[str, Any]) -> list[str]:
    id2label = config.get("id2label") or {}
    if id2label:
        return [str(id2label[key]) for key in sorted(id2label, key=int)]
    return [f"LABEL_{i}" for i in range(int(config.get("num_labels", 2)))]


def _split_for(model_dir: Path, data: LabelledData, seed: int) -> tuple[Split, str]:
    """The split saved by mlcost train beside the model when it fits the data, else a new one."""
    saved = model_dir.parent / "split.json"
    if saved.is_file() and _trained_on(model_dir) == data.source:
        try:
            split = Split.from_json(saved.read_text())
        except (ValueError, KeyError, TypeError):
            split = None
        if split is not None and max((*split.train, *split.validation, *split.test)) < len(data):
            return split, f"the model's training split ({saved})"
    return split_indices(data.labels, seed=seed), f"a new stratified 80/10/10 split (seed {seed})"


def _trained_on(model_dir: Path) -> str | None:
    """The data source mlcost train recorded for the model (metrics.json), if any."""
    try:
        return str(json.loads((model_dir.parent / "metrics.json").read_text())["data"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _max_length(model_dir: Path, config: dict[str, Any]) -> int:
    """The token limit the model was trained with (mlcost train's metrics.json), else its maximum."""
    metrics = model_dir.parent / "metrics.json"
    if metrics.is_file():
        try:
            return int(json.loads(metrics.read_text())["max_length"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    return min(512, int(config.get("max_position_embeddings", 512)))
