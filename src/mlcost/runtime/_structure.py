"""Load a Hugging Face sequence classifier, including one whose matrices were pruned.

A pruned BERT-style model keeps ``config.num_attention_heads`` (it fixes the
head size) but its layers hold fewer heads and FFN neurons than the config
says. ``record_structure`` writes the real per-layer sizes into the config as

    "mlcost_structure": {"heads": [heads per layer], "intermediate": [FFN neurons per layer]}

and ``load_classifier`` rebuilds exactly those shapes before loading weights.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlcost.core import require

STRUCTURE_KEY = "mlcost_structure"


def load_classifier(model_dir: Path, **from_pretrained: Any) -> Any:
    """The sequence classifier in ``model_dir``, in eval mode, rebuilt to its pruned shapes.

    Keyword arguments go to ``from_pretrained`` unchanged. A folder whose
    config has no ``mlcost_structure`` loads exactly as from_pretrained does.
    A pruned folder must supply every encoder weight at its recorded shape;
    only the classification head may be replaced (``ignore_mismatched_sizes``
    with a new ``num_labels``). Raises OSError/ValueError like from_pretrained,
    and ValueError when the structure or the weights do not fit the config.
    """
    transformers = require("transformers", extra="train", purpose="loading a model")
    structure = _read_structure(Path(model_dir))
    if structure is None:
        return transformers.AutoModelForSequenceClassification.from_pretrained(
            model_dir, **from_pretrained
        )
    config = transformers.AutoConfig.from_pretrained(model_dir)
    mapping = transformers.models.auto.modeling_auto.MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING
    if type(config) not in mapping:
        raise ValueError(
            f"{model_dir} holds a {config.model_type} model, not a sequence classifier"
        )
    base = mapping[type(config)]
    wants_info = bool(from_pretrained.pop("output_loading_info", False))
    allow_new_head = bool(from_pretrained.pop("ignore_mismatched_sizes", False))
    # Mismatches are checked below, so that they raise ValueError, not RuntimeError.
    model, info = _pruned_class(base, structure).from_pretrained(
        model_dir, output_loading_info=True, ignore_mismatched_sizes=True, **from_pretrained
    )
    model.__class__ = base  # the subclass only shaped the modules; save_pretrained names the base
    _check_weights_fit(model, info, model_dir, allow_new_head=allow_new_head)
    return (model, info) if wants_info else model


def parameter_count(model: Any) -> int:
    """The number of distinct parameters (tied weights counted once) in a torch module."""
    return sum(parameter.numel() for parameter in model.parameters())


def encoder_layers(model: Any) -> list[Any]:
    """The encoder layers of a BERT-style model; raises ValueError for any other layout.

    BERT-style: ``model.base_model.encoder.layer`` is a list of layers, each with
    ``attention.self.{query,key,value}``, ``attention.output.dense``,
    ``intermediate.dense`` and ``output.dense``.
    """
    base = getattr(model, "base_model", model)
    layers = getattr(getattr(base, "encoder", None), "layer", None)
    if layers is None or len(layers) == 0:
        raise ValueError(f"{type(model).__name__} has no encoder.layer: not a BERT-style model")
    if getattr(model.config, "add_cross_attention", False):
        raise ValueError(f"{type(model).__name__} has cross-attention: not an encoder-only model")
    for layer in layers:
        try:
            attention = layer.attention
            modules = (
                attention.self.query,
                attention.self.key,
                attention.self.value,
                attention.output.dense,
                layer.intermediate.dense,
                layer.output.dense,
            )
        except AttributeError as exc:
            raise ValueError(
                f"{type(layer).__name__} lacks {exc.name}: not a BERT-style encoder layer"
            ) from exc
        if not all(hasattr(module, "weight") for module in modules):
            raise ValueError(f"{type(layer).__name__} has no linear projections: not BERT-style")
    return list(layers)


def record_structure(model: Any) -> dict[str, list[int]]:
    """Per-layer head and FFN sizes, read from the weights and stored in ``model.config``.

    Also sets ``config.num_hidden_layers`` to the number of layers. Raises
    ValueError if the model is not BERT-style.
    """
    layers = encoder_layers(model)
    structure = {
        "heads": [layer.attention.self.query.out_features // _head_size(layer) for layer in layers],
        "intermediate": [layer.intermediate.dense.out_features for layer in layers],
    }
    model.config.num_hidden_layers = len(layers)
    setattr(model.config, STRUCTURE_KEY, structure)
    return structure


def _read_structure(model_dir: Path) -> dict[str, list[int]] | None:
    """The structure recorded in a local folder's config.json, or None (hub ids too)."""
    config_file = model_dir / "config.json"
    if not config_file.is_file():
        return None
    try:
        config = json.loads(config_file.read_text())
    except json.JSONDecodeError:
        return None  # from_pretrained reports a broken config better than we can
    structure = config.get(STRUCTURE_KEY) if isinstance(config, dict) else None
    if structure is None:
        return None
    layers = config.get("num_hidden_layers")
    if not (
        isinstance(structure, dict)
        and all(
            isinstance(structure.get(key), list)
            and len(structure[key]) == layers
            and all(isinstance(size, int) and size > 0 for size in structure[key])
            for key in ("heads", "intermediate")
        )
    ):
        raise ValueError(
            f"{config_file} has a malformed {STRUCTURE_KEY}: it needs 'heads' and 'intermediate',"
            f" each a list of {layers} positive integers (num_hidden_layers); re-run the pruning"
        )
    return {key: list(structure[key]) for key in ("heads", "intermediate")}


def _pruned_class(base: type[Any], structure: dict[str, list[int]]) -> type[Any]:
    """A subclass of ``base`` whose constructor shapes the encoder as ``structure`` says."""

    class Pruned(base):  # type: ignore[misc]
        def __init__(self, config: Any, *args: Any, **kwargs: Any) -> None:
            super().__init__(config, *args, **kwargs)
            _shape_layers(encoder_layers(self), structure)

    Pruned.__name__ = Pruned.__qualname__ = base.__name__
    return Pruned


def _shape_layers(layers: list[Any], structure: dict[str, list[int]]) -> None:
    """Replace each layer's projections with uninitialised ones of the recorded sizes."""
    for layer, heads, neurons in zip(
        layers, structure["heads"], structure["intermediate"], strict=True
    ):
        attention = layer.attention.self
        width = heads * _head_size(layer)
        for name in ("query", "key", "value"):
            setattr(attention, name, _linear_like(getattr(attention, name), out_features=width))
        layer.attention.output.dense = _linear_like(layer.attention.output.dense, in_features=width)
        attention.num_attention_heads = heads
        attention.all_head_size = width
        layer.intermediate.dense = _linear_like(layer.intermediate.dense, out_features=neurons)
        layer.output.dense = _linear_like(layer.output.dense, in_features=neurons)


def _linear_like(
    linear: Any, *, in_features: int | None = None, out_features: int | None = None
) -> Any:
    """A new nn.Linear on the same device and dtype as ``linear``, with some sizes changed."""
    torch = require("torch", extra="train", purpose="loading a model")
    return torch.nn.Linear(
        linear.in_features if in_features is None else in_features,
        linear.out_features if out_features is None else out_features,
        bias=linear.bias is not None,
        device=linear.weight.device,
        dtype=linear.weight.dtype,
    )


def _head_size(layer: Any) -> int:
    size: int = layer.attention.self.attention_head_size
    return size


def _check_weights_fit(
    model: Any, info: dict[str, Any], model_dir: Path, *, allow_new_head: bool
) -> None:
    """Raise ValueError if a base-model weight was missing or did not fit its recorded shape.

    A head weight of another shape is re-initialised only if ``allow_new_head``,
    as from_pretrained does with ``ignore_mismatched_sizes``.
    """
    prefix = f"{model.base_model_prefix}."
    mismatched = sorted(entry[0] for entry in info["mismatched_keys"])
    absent = sorted(key for key in [*info["missing_keys"], *mismatched] if key.startswith(prefix))
    if absent:
        shown = ", ".join(absent[:3]) + (f" and {len(absent) - 3} more" if len(absent) > 3 else "")
        raise ValueError(
            f"the weights in {model_dir} do not fit its {STRUCTURE_KEY} ({shown}):"
            " the folder is damaged or its config.json was edited; re-run the pruning"
        )
    head = [key for key in mismatched if not key.startswith(prefix)]
    if head and not allow_new_head:
        raise ValueError(
            f"the classification head in {model_dir} has another shape ({', '.join(head)});"
            " pass ignore_mismatched_sizes=True to replace it with a new one"
        )
