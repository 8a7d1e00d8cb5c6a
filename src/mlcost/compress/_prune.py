"""Structured pruning of a BERT-style classifier: heads, FFN neurons and layers really removed.

Importance is first-order Taylor (Molchanov et al. 2019): |w * dL/dw| summed
over the weights of a head, an FFN neuron or a whole layer, accumulated over
labelled batches with cross-entropy. Head scores are L2-normalised per layer
before the global ranking, as Michel et al. (2019) found necessary. The
matrices are sliced, so the saved model is smaller and faster, and
``mlcost.runtime.load_classifier`` rebuilds it from ``config.mlcost_structure``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import AutoTokenizer

from mlcost.core import CompressError, staged_folder
from mlcost.runtime import encoder_layers, load_classifier, parameter_count, record_structure

IMPORTANCE_METHOD = "first-order-taylor"


@dataclass(frozen=True, slots=True)
class PruneSettings:
    """How much of the encoder to keep; checked when pruning runs."""

    heads_keep: float = 0.5  # fraction of attention heads kept, ranked globally, >= 1 per layer
    ffn_keep: float = 0.5  # fraction of FFN neurons kept in each layer
    layers_drop: int = 0  # whole encoder layers removed, least important first


@dataclass(frozen=True, slots=True)
class _Importance:
    """Taylor scores of the unpruned model, one entry per encoder layer."""

    heads: list[torch.Tensor]
    neurons: list[torch.Tensor]
    layers: list[float]


def prune_classifier(
    model_dir: Path,
    out_dir: Path,
    batches: Sequence[dict[str, torch.Tensor]],
    settings: PruneSettings,
) -> dict[str, Any]:
    """Score importance on ``batches``, prune, save to ``out_dir``; returns the JSON-able recipe.

    Each batch holds ``input_ids``, ``attention_mask`` and ``labels`` (any
    other tensor is passed to the model too). ``out_dir`` is replaced
    atomically with the pruned model and the tokenizer of ``model_dir``. In
    the recipe, ``heads_kept`` lists for each kept layer the indices of its
    heads in ``model_dir`` that remain.
    Raises CompressError for bad settings, empty batches, labels the head
    cannot score, and a model that cannot be loaded or is not BERT-style.
    """
    _check_settings(settings)
    if not batches:
        raise CompressError("pruning needs at least one labelled batch to score importance on")
    if any(not {"input_ids", "labels"} <= batch.keys() for batch in batches):
        raise CompressError("every pruning batch needs input_ids, attention_mask and labels")
    model, tokenizer = _load(model_dir)
    try:
        layers = encoder_layers(model)
    except ValueError as exc:
        raise CompressError(f"cannot prune {model_dir}: {exc}; only BERT-style encoders") from exc
    if not 0 <= settings.layers_drop < len(layers):
        raise CompressError(
            f"layers_drop={settings.layers_drop} must be in [0, {len(layers)}):"
            f" {model_dir} has {len(layers)} encoder layers and at least one must stay"
        )
    parameters_before = parameter_count(model)
    importance = _taylor_importance(model, layers, batches)
    ranked = sorted(range(len(layers)), key=lambda index: importance.layers[index])
    dropped = sorted(ranked[: settings.layers_drop])
    kept = [index for index in range(len(layers)) if index not in dropped]
    heads = _select_heads([importance.heads[index] for index in kept], settings.heads_keep)
    neurons = [_top(importance.neurons[index], settings.ffn_keep) for index in kept]
    kept_layers = [layers[index] for index in kept]
    for layer, layer_heads, layer_neurons in zip(kept_layers, heads, neurons, strict=True):
        _prune_layer(layer, layer_heads, layer_neurons)
    _keep_layers(model, kept_layers)
    record_structure(model)
    _save_atomically(model, tokenizer, out_dir)
    return {
        "method": "structured-pruning",
        "importance": IMPORTANCE_METHOD,
        "settings": asdict(settings),
        "batches": len(batches),
        "dropped_layers": dropped,
        "kept_layers": kept,
        "heads_kept": heads,
        "intermediate_sizes": [len(layer_neurons) for layer_neurons in neurons],
        "parameter_count_before": parameters_before,
        "parameter_count_after": parameter_count(model),
    }


def _check_settings(settings: PruneSettings) -> None:
    for name in ("heads_keep", "ffn_keep"):
        value = getattr(settings, name)
        if not 0.0 < value <= 1.0:
            raise CompressError(f"{name}={value} must be a fraction in (0, 1]")
    if settings.layers_drop < 0:
        raise CompressError(f"layers_drop={settings.layers_drop} must be 0 or more")


def _load(model_dir: Path) -> tuple[Any, Any]:
    try:
        model = load_classifier(model_dir)
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
    except (OSError, ValueError, KeyError) as exc:
        raise CompressError(
            f"cannot load a sequence classifier and tokenizer from {model_dir}: {exc}"
        ) from exc
    return model.eval(), tokenizer  # eval: no dropout noise in the scores


def _taylor_importance(
    model: Any, layers: list[Any], batches: Sequence[dict[str, torch.Tensor]]
) -> _Importance:
    """|w * dL/dw| per head, FFN neuron and layer, summed over the batches."""
    heads = [torch.zeros(_head_count(layer)) for layer in layers]
    neurons = [torch.zeros(layer.intermediate.dense.out_features) for layer in layers]
    scores = [0.0] * len(layers)
    num_labels = model.config.num_labels
    # Gradients of the embeddings (the largest matrix) are not needed: skip computing them.
    scored = {id(parameter) for layer in layers for parameter in layer.parameters()}
    for parameter in model.parameters():
        parameter.requires_grad_(id(parameter) in scored)
    for batch in batches:
        labels = batch["labels"]
        if labels.numel() and not 0 <= int(labels.min()) <= int(labels.max()) < num_labels:
            raise CompressError(
                f"batch labels must be class indices in [0, {num_labels}) for this model's head;"
                " map the label names to the model's label ids"
            )
        model.zero_grad(set_to_none=True)
        with torch.enable_grad():
            inputs = {name: tensor for name, tensor in batch.items() if name != "labels"}
            loss = nn.functional.cross_entropy(model(**inputs).logits, labels)
            loss.backward()  # type: ignore[no-untyped-call]
        with torch.no_grad():
            for index, layer in enumerate(layers):
                heads[index] += _head_scores(layer)
                neurons[index] += _neuron_scores(layer)
                scores[index] += sum(float(_taylor(p).sum()) for p in layer.parameters())
    model.zero_grad(set_to_none=True)
    model.requires_grad_(True)
    return _Importance(heads=heads, neurons=neurons, layers=scores)


def _taylor(parameter: torch.Tensor) -> torch.Tensor:
    if parameter.grad is None:
        return torch.zeros_like(parameter)
    return (parameter * parameter.grad).abs()


def _head_scores(layer: Any) -> torch.Tensor:
    attention = layer.attention.self
    per_row = sum(
        _taylor(linear.weight).sum(dim=1) + _bias_taylor(linear)
        for linear in (attention.query, attention.key, attention.value)
    )
    per_row = per_row + _taylor(layer.attention.output.dense.weight).sum(dim=0)
    return per_row.view(_head_count(layer), -1).sum(dim=1)


def _neuron_scores(layer: Any) -> torch.Tensor:
    linear = layer.intermediate.dense
    scores = _taylor(linear.weight).sum(dim=1) + _bias_taylor(linear)
    return scores + _taylor(layer.output.dense.weight).sum(dim=0)


def _bias_taylor(linear: nn.Linear) -> torch.Tensor:
    return torch.zeros(linear.out_features) if linear.bias is None else _taylor(linear.bias)


def _head_count(layer: Any) -> int:
    attention = layer.attention.self
    count: int = attention.query.out_features // attention.attention_head_size
    return count


def _kept_count(fraction: float, total: int) -> int:
    """Round half up, so 0.5 of 3 keeps 2; never below 1."""
    return max(1, min(total, math.floor(fraction * total + 0.5)))


def _top(scores: torch.Tensor, fraction: float) -> list[int]:
    """Indices of the highest scores, in their original order; ties keep the lower index."""
    order = sorted(range(len(scores)), key=lambda index: (-float(scores[index]), index))
    return sorted(order[: _kept_count(fraction, len(scores))])


def _select_heads(scores: list[torch.Tensor], fraction: float) -> list[list[int]]:
    """Heads kept per layer: the best of each layer, then the globally best up to the budget."""
    normalised = [layer / layer.norm().clamp_min(1e-12) for layer in scores]
    target = max(len(scores), _kept_count(fraction, sum(len(layer) for layer in scores)))
    ranked = sorted(
        (-float(layer[head]), index, head)
        for index, layer in enumerate(normalised)
        for head in range(len(layer))
    )
    kept: list[set[int]] = [set() for _ in scores]
    for _, index, head in ranked:  # the first head met in each layer is its best
        if not kept[index]:
            kept[index].add(head)
    for _, index, head in ranked:
        if sum(map(len, kept)) >= target:
            break
        kept[index].add(head)
    return [sorted(layer) for layer in kept]


def _prune_layer(layer: Any, heads: list[int], neurons: list[int]) -> None:
    """Slice the layer's matrices down to the kept heads and FFN neurons."""
    attention = layer.attention.self
    size = attention.attention_head_size
    rows = torch.tensor([head * size + offset for head in heads for offset in range(size)])
    for name in ("query", "key", "value"):
        setattr(attention, name, _slice(getattr(attention, name), rows, dim=0))
    layer.attention.output.dense = _slice(layer.attention.output.dense, rows, dim=1)
    attention.num_attention_heads = len(heads)
    attention.all_head_size = len(heads) * size
    kept = torch.tensor(neurons)
    layer.intermediate.dense = _slice(layer.intermediate.dense, kept, dim=0)
    layer.output.dense = _slice(layer.output.dense, kept, dim=1)


def _slice(linear: nn.Linear, index: torch.Tensor, *, dim: int) -> nn.Linear:
    """A copy of ``linear`` keeping only ``index`` of its outputs (dim 0) or inputs (dim 1)."""
    weight = linear.weight.detach().index_select(dim, index)
    sliced = nn.Linear(
        weight.shape[1],
        weight.shape[0],
        bias=linear.bias is not None,
        device=weight.device,
        dtype=weight.dtype,
    )
    with torch.no_grad():
        sliced.weight.copy_(weight)
        if linear.bias is not None:
            bias = linear.bias.detach()
            sliced.bias.copy_(bias.index_select(0, index) if dim == 0 else bias)
    return sliced


def _keep_layers(model: Any, layers: list[Any]) -> None:
    """Make ``layers`` the whole encoder, renumbering the indices layers keep of themselves."""
    model.base_model.encoder.layer = nn.ModuleList(layers)
    for position, layer in enumerate(layers):
        for module in layer.modules():
            if hasattr(module, "layer_idx"):
                module.layer_idx = position


def _save_atomically(model: Any, tokenizer: Any, target: Path) -> None:
    """save_pretrained into a staging folder swapped into place: never a half-written model."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with staged_folder(target) as staging:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
