"""Structured pruning of a small BERT: smaller matrices, same maths, reloadable, exportable."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
from tiny_model import build_tiny_bert

from mlcost.compress import (
    EXPORT_TOLERANCE,
    PruneSettings,
    export_onnx,
    optimize_transformer,
    prune_classifier,
    run_onnx,
)
from mlcost.core import CompressError
from mlcost.runtime import load_classifier, parameter_count

LAYERS, HEADS, HIDDEN, FFN = 3, 4, 32, 64
HEAD_SIZE = HIDDEN // HEADS


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 layers of 4 heads; weights large enough that every head changes the logits."""
    folder = build_tiny_bert(tmp_path_factory.mktemp("original") / "model")
    config = BertConfig(
        vocab_size=31,
        hidden_size=HIDDEN,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        intermediate_size=FFN,
        max_position_embeddings=64,
        initializer_range=0.3,
    )
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def batches() -> list[dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(1)
    result = []
    for _ in range(2):
        ids = torch.randint(5, 31, (6, 9), generator=generator)
        mask = torch.ones_like(ids)
        mask[0, 5:] = 0
        labels = torch.randint(0, 2, (6,), generator=generator)
        result.append({"input_ids": ids, "attention_mask": mask, "labels": labels})
    return result


@pytest.fixture(scope="module")
def pruned(
    original: Path, batches: list[dict[str, torch.Tensor]], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("pruned") / "model"
    return out, prune_classifier(original, out, batches, PruneSettings(0.5, 0.25))


def logits(model: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    with torch.no_grad():
        result: torch.Tensor = model(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
        ).logits
    return result


def test_keeping_everything_gives_identical_logits(
    original: Path, batches: list[dict[str, torch.Tensor]], tmp_path: Path
) -> None:
    recipe = prune_classifier(original, tmp_path / "all", batches, PruneSettings(1.0, 1.0))
    assert recipe["parameter_count_after"] == recipe["parameter_count_before"]
    assert recipe["heads_kept"] == [list(range(HEADS))] * LAYERS
    before, after = load_classifier(original), load_classifier(tmp_path / "all")
    for batch in batches:
        assert torch.equal(logits(after, batch), logits(before, batch))


def test_pruned_matrices_shrink_as_set(
    original: Path, batches: list[dict[str, torch.Tensor]], tmp_path: Path
) -> None:
    settings = PruneSettings(heads_keep=0.5, ffn_keep=0.25, layers_drop=1)
    recipe = prune_classifier(original, tmp_path / "p", batches, settings)
    model = load_classifier(tmp_path / "p")
    layers = model.bert.encoder.layer
    assert len(layers) == model.config.num_hidden_layers == LAYERS - 1
    assert len(recipe["dropped_layers"]) == 1
    heads = [layer.attention.self.query.out_features // HEAD_SIZE for layer in layers]
    assert sum(heads) == round(0.5 * HEADS * (LAYERS - 1)) and min(heads) >= 1
    assert heads == [len(kept) for kept in recipe["heads_kept"]]
    for layer, count in zip(layers, heads, strict=True):
        for linear in (layer.attention.self.key, layer.attention.self.value):
            assert tuple(linear.weight.shape) == (count * HEAD_SIZE, HIDDEN)
        assert tuple(layer.attention.output.dense.weight.shape) == (HIDDEN, count * HEAD_SIZE)
        assert tuple(layer.intermediate.dense.weight.shape) == (FFN // 4, HIDDEN)
        assert tuple(layer.output.dense.weight.shape) == (HIDDEN, FFN // 4)
    assert recipe["intermediate_sizes"] == [FFN // 4] * (LAYERS - 1)
    assert recipe["parameter_count_after"] == parameter_count(model)
    assert recipe["parameter_count_after"] < recipe["parameter_count_before"]
    assert recipe["parameter_count_before"] == parameter_count(load_classifier(original))
    assert json.loads(json.dumps(recipe)) == recipe
    assert logits(model, batches[0]).shape == (6, 2)


def test_a_pruned_model_computes_the_original_without_its_pruned_units(
    original: Path, pruned: tuple[Path, dict[str, Any]], batches: list[dict[str, torch.Tensor]]
) -> None:
    """Zeroing what pruning removed (output columns of heads and neurons) gives the same logits."""
    folder, recipe = pruned
    masked, small = load_classifier(original), load_classifier(folder)
    pairs = zip(masked.bert.encoder.layer, small.bert.encoder.layer, strict=True)
    for index, (full, cut) in enumerate(pairs):
        with torch.no_grad():
            for head in set(range(HEADS)) - set(recipe["heads_kept"][index]):
                full.attention.output.dense.weight[:, head * HEAD_SIZE : (head + 1) * HEAD_SIZE] = 0
            kept_rows = {row.numpy().tobytes() for row in cut.intermediate.dense.weight}
            for neuron, row in enumerate(full.intermediate.dense.weight):
                if row.numpy().tobytes() not in kept_rows:
                    full.output.dense.weight[:, neuron] = 0
    assert sum(len(kept) for kept in recipe["heads_kept"]) < HEADS * LAYERS
    for batch in batches:
        torch.testing.assert_close(logits(small, batch), logits(masked, batch))


def test_reload_restores_every_saved_weight_exactly(
    pruned: tuple[Path, dict[str, Any]], batches: list[dict[str, torch.Tensor]]
) -> None:
    folder, _ = pruned
    saved = load_file(str(folder / "model.safetensors"))
    model = load_classifier(folder)
    state = model.state_dict()
    assert set(saved) <= set(state)
    for name, tensor in saved.items():
        assert torch.equal(state[name], tensor), name
    assert torch.equal(logits(model, batches[0]), logits(load_classifier(folder), batches[0]))
    assert type(model) is BertForSequenceClassification


def test_a_zeroed_head_is_ranked_least_important_and_pruned(
    original: Path, batches: list[dict[str, torch.Tensor]], tmp_path: Path
) -> None:
    model = load_classifier(original)
    layer, head = model.bert.encoder.layer[1], 2
    rows = slice(head * HEAD_SIZE, (head + 1) * HEAD_SIZE)
    with torch.no_grad():
        for linear in (layer.attention.self.query, layer.attention.self.key):
            linear.weight[rows] = 0
            linear.bias[rows] = 0
        layer.attention.self.value.weight[rows] = 0
        layer.attention.self.value.bias[rows] = 0
        layer.attention.output.dense.weight[:, rows] = 0
    model.save_pretrained(tmp_path / "zeroed")
    AutoTokenizer.from_pretrained(original).save_pretrained(tmp_path / "zeroed")
    keep_all_but_one = (HEADS * LAYERS - 1) / (HEADS * LAYERS)
    recipe = prune_classifier(
        tmp_path / "zeroed", tmp_path / "p", batches, PruneSettings(keep_all_but_one, 1.0)
    )
    assert recipe["heads_kept"] == [[0, 1, 2, 3], [0, 1, 3], [0, 1, 2, 3]]


def test_a_pruned_folder_exports_and_fuses_within_tolerance(
    pruned: tuple[Path, dict[str, Any]], batches: list[dict[str, torch.Tensor]], tmp_path: Path
) -> None:
    folder, _ = pruned
    exported, fused = tmp_path / "model.onnx", tmp_path / "fused.onnx"
    assert export_onnx(folder, exported) <= EXPORT_TOLERANCE
    optimize_transformer(exported, fused, num_heads=HEADS, hidden_size=HIDDEN)
    expected = logits(load_classifier(folder), batches[0]).numpy()
    assert np.abs(run_onnx(fused, feeds(batches[0])) - expected).max() <= EXPORT_TOLERANCE


def test_fused_attention_gets_each_layers_pruned_head_count(
    pruned: tuple[Path, dict[str, Any]], batches: list[dict[str, torch.Tensor]], tmp_path: Path
) -> None:
    """With eager attention ORT fuses Attention nodes; the config's num_heads would be wrong."""
    folder, recipe = pruned
    heads = [len(kept) for kept in recipe["heads_kept"]]
    assert any(count != HEADS for count in heads)
    model = load_classifier(folder, attn_implementation="eager")
    exported, fused = tmp_path / "eager.onnx", tmp_path / "fused.onnx"
    names = ["input_ids", "attention_mask"]
    torch.onnx.export(
        model,
        (batches[0]["input_ids"], batches[0]["attention_mask"]),
        str(exported),
        input_names=names,
        output_names=["logits"],
        dynamic_axes={name: {0: "batch", 1: "sequence"} for name in names},
        opset_version=17,
        dynamo=False,
    )
    optimize_transformer(exported, fused, num_heads=HEADS, hidden_size=HIDDEN)
    attention = [node for node in onnx.load(str(fused)).graph.node if node.op_type == "Attention"]
    num_heads = [
        next(attribute.i for attribute in node.attribute if attribute.name == "num_heads")
        for node in attention
    ]
    assert num_heads == heads
    for batch in batches:
        expected = logits(model, batch).numpy()
        assert np.abs(run_onnx(fused, feeds(batch)) - expected).max() <= EXPORT_TOLERANCE


def feeds(batch: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    return {name: batch[name].numpy() for name in ("input_ids", "attention_mask")}


def test_training_kwargs_load_a_pruned_folder_with_a_new_head(
    pruned: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    folder, _ = pruned
    names = ("neg", "neu", "pos")
    model = load_classifier(
        folder,
        num_labels=3,
        id2label=dict(enumerate(names)),
        label2id={name: i for i, name in enumerate(names)},
        ignore_mismatched_sizes=True,
    )
    assert model.classifier.out_features == 3
    assert model.config.id2label == dict(enumerate(names))
    saved = load_file(str(folder / "model.safetensors"))
    layer = "bert.encoder.layer.0.intermediate.dense.weight"
    assert torch.equal(model.state_dict()[layer], saved[layer])
    model.save_pretrained(tmp_path / "tuned")  # fine-tuned and saved: still a pruned folder
    assert torch.equal(load_classifier(tmp_path / "tuned").state_dict()[layer], saved[layer])
    with pytest.raises(ValueError, match="ignore_mismatched_sizes"):
        load_classifier(folder, num_labels=3)


def test_an_unpruned_folder_loads_as_from_pretrained(original: Path) -> None:
    model = load_classifier(original)
    reference = BertForSequenceClassification.from_pretrained(original)
    assert not hasattr(model.config, "mlcost_structure")
    for name, tensor in reference.state_dict().items():
        assert torch.equal(model.state_dict()[name], tensor), name


@pytest.mark.parametrize(
    "edit",
    [
        lambda structure: structure["heads"].__setitem__(0, structure["heads"][0] + 1),
        lambda structure: structure["intermediate"].pop(),
        lambda structure: structure.pop("heads"),
    ],
    ids=["weights-of-another-shape", "wrong-layer-count", "no-heads"],
)
def test_a_structure_that_does_not_fit_the_weights_is_refused(
    pruned: tuple[Path, dict[str, Any]], tmp_path: Path, edit: Any
) -> None:
    folder, _ = pruned
    copy = tmp_path / "edited"
    copy.mkdir()
    for file in folder.iterdir():
        (copy / file.name).write_bytes(file.read_bytes())
    config = json.loads((folder / "config.json").read_text())
    edit(config["mlcost_structure"])
    (copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="mlcost_structure"):
        load_classifier(copy)


def test_a_pruned_folder_can_be_pruned_again(
    pruned: tuple[Path, dict[str, Any]], batches: list[dict[str, torch.Tensor]], tmp_path: Path
) -> None:
    folder, first = pruned
    second = prune_classifier(folder, tmp_path / "again", batches, PruneSettings(0.5, 0.5))
    assert second["parameter_count_before"] == first["parameter_count_after"]
    assert second["intermediate_sizes"] == [FFN // 8] * LAYERS
    assert sum(map(len, second["heads_kept"])) == 3  # half of the 6 heads the first pass kept


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (PruneSettings(heads_keep=0.0), "heads_keep"),
        (PruneSettings(ffn_keep=1.5), "ffn_keep"),
        (PruneSettings(layers_drop=LAYERS), "layers_drop"),
        (PruneSettings(layers_drop=-1), "layers_drop"),
    ],
)
def test_bad_settings_are_refused_before_anything_is_written(
    original: Path,
    batches: list[dict[str, torch.Tensor]],
    tmp_path: Path,
    settings: PruneSettings,
    message: str,
) -> None:
    with pytest.raises(CompressError, match=message):
        prune_classifier(original, tmp_path / "out", batches, settings)
    assert not (tmp_path / "out").exists()


def test_unusable_batches_are_refused(
    original: Path, batches: list[dict[str, torch.Tensor]], tmp_path: Path
) -> None:
    with pytest.raises(CompressError, match="at least one"):
        prune_classifier(original, tmp_path / "out", [], PruneSettings())
    bad = [{**batches[0], "labels": torch.full((6,), 5)}]
    with pytest.raises(CompressError, match="class indices"):
        prune_classifier(original, tmp_path / "out", bad, PruneSettings())


def test_a_model_that_is_not_bert_style_is_refused(
    original: Path, batches: list[dict[str, torch.Tensor]], tmp_path: Path
) -> None:
    from transformers import DistilBertConfig, DistilBertForSequenceClassification

    config = DistilBertConfig(
        vocab_size=31, dim=32, n_layers=1, n_heads=2, hidden_dim=64, max_position_embeddings=64
    )
    DistilBertForSequenceClassification(config).save_pretrained(tmp_path / "distil")
    AutoTokenizer.from_pretrained(original).save_pretrained(tmp_path / "distil")
    with pytest.raises(CompressError, match="BERT-style"):
        prune_classifier(tmp_path / "distil", tmp_path / "out", batches, PruneSettings())
