"""Static INT8 on a tiny BERT: a QDQ model close to its parent, and a fallback that keeps nodes float."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
from tiny_model import build_tiny_bert

from mlcost.compress import (
    StaticResult,
    export_onnx,
    int8_settings,
    quantize_static_int8,
    run_onnx,
)
from mlcost.core import CompressError
from mlcost.runtime import read_cpu_features

AVX2 = int8_settings(read_cpu_features("model name\t: AMD EPYC 7R32\nflags\t\t: fpu avx2 fma\n"))
PRODUCTS = ("MatMul", "Gemm")
# The node the `broken` model makes unquantizable on purpose.
BROKEN_NODE = "/bert/encoder/layer.0/intermediate/dense/MatMul"


def random_feeds(seed: int, count: int, batch: int = 4) -> list[dict[str, np.ndarray]]:
    """Token feeds of mixed lengths, each with one padded row."""
    rng = np.random.default_rng(seed)
    feeds = []
    for length in rng.integers(4, 20, size=count):
        ids = rng.integers(5, 30, size=(batch, int(length))).astype(np.int64)
        mask = np.ones_like(ids)
        mask[0, int(length) // 2 :] = 0
        feeds.append({"input_ids": ids, "attention_mask": mask})
    return feeds


CALIBRATION = random_feeds(0, 12)
HELD_OUT = random_feeds(1, 6)


def _export(folder: Path, change: Callable[[Any], None] | None = None) -> Path:
    import torch
    from transformers import BertForSequenceClassification

    torch.manual_seed(0)
    build_tiny_bert(folder)
    if change is not None:
        model = BertForSequenceClassification.from_pretrained(folder)
        with torch.no_grad():
            change(model)
        model.save_pretrained(folder)
    export_onnx(folder, folder / "model.onnx")
    return folder / "model.onnx"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _export(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny BERT where one MatMul reads an activation whose range 8 bits cannot hold.

    LayerNorm channel 0 is scaled by 1000 and the next MatMul ignores that
    channel: the per-tensor scale is set by the outlier, every value the
    MatMul uses rounds to zero, its local SQNR is about 0 dB.
    """

    def outlier(model: Any) -> None:
        layer = model.bert.encoder.layer[0]
        layer.attention.output.LayerNorm.weight[0] = 1000.0
        layer.intermediate.dense.weight[:, 0] = 0.0

    return _export(tmp_path_factory.mktemp("broken") / "model", outlier)


def nodes(path: Path) -> list[Any]:
    import onnx

    return list(onnx.load(str(path)).graph.node)


def products(path: Path) -> set[str]:
    return {node.name for node in nodes(path) if node.op_type in PRODUCTS}


def quantized_products(path: Path) -> set[str]:
    """MatMul/Gemm nodes that read the output of a DequantizeLinear."""
    graph = nodes(path)
    dequantized = {o for n in graph if n.op_type == "DequantizeLinear" for o in n.output}
    return {
        n.name
        for n in graph
        if n.op_type in PRODUCTS and any(name in dequantized for name in n.input)
    }


def penalty(path: Path) -> float:
    """An 'accuracy' that loses one point per quantized MatMul/Gemm."""
    return 1.0 - 0.01 * len(quantized_products(path))


def logits(path: Path) -> np.ndarray:
    return np.concatenate([run_onnx(path, feed) for feed in HELD_OUT])


def sqnr_db(reference: np.ndarray, other: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(reference**2) / np.sum((reference - other) ** 2)))


def quantize(model: Path, tmp_path: Path, **overrides: Any) -> tuple[StaticResult, Path]:
    out = tmp_path / "static.onnx"
    arguments: dict[str, Any] = {
        "calibration": CALIBRATION,
        "settings": AVX2,
        "evaluate": penalty,
        "reference_accuracy": 1.0,
        "budget_pt": 100.0,
        "work_dir": tmp_path / "work",
    }
    return quantize_static_int8(model, out, **(arguments | overrides)), out


@pytest.mark.parametrize("method", ["percentile", "entropy"])
def test_static_int8_is_a_qdq_model_close_to_its_parent(
    tiny: Path, tmp_path: Path, method: str
) -> None:
    parent = logits(tiny)

    def agreement(path: Path) -> float:
        return float(np.mean(logits(path).argmax(1) == parent.argmax(1)))

    result, out = quantize(tiny, tmp_path, evaluate=agreement, method=method)
    ops = {node.op_type for node in nodes(out)}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert quantized_products(out) == products(out) == products(tiny)
    assert sqnr_db(parent, logits(out)) > 20  # error under a tenth of the logits
    assert result.float_nodes == () and result.within_budget
    assert result.attempts == ((0, result.accuracy),) and result.accuracy == agreement(out)
    recipe = json.loads(json.dumps(result.recipe))
    assert recipe["calibration"] == method and recipe["format"] == "QDQ"
    assert (recipe["per_channel"], recipe["reduce_range"]) == (True, True)
    assert list((tmp_path / "work").iterdir()) == []  # scratch models are cleaned up


def test_a_budget_met_exactly_keeps_every_node_quantized(tiny: Path, tmp_path: Path) -> None:
    drop_pt = len(products(tiny))  # one point per quantized node
    result, out = quantize(tiny, tmp_path, budget_pt=float(drop_pt))
    assert result.within_budget and result.float_nodes == ()
    assert result.attempts == ((0, pytest.approx(1 - drop_pt / 100)),)
    assert quantized_products(out) == products(tiny)


def test_the_fallback_keeps_the_worst_nodes_float_until_the_budget_is_met(
    broken: Path, tmp_path: Path
) -> None:
    count = len(products(broken))
    # At most count - 4 nodes may stay quantized: tries keep 0, 1, 2, then 4 nodes float.
    result, out = quantize(broken, tmp_path, budget_pt=count - 3.5)
    assert [kept for kept, _ in result.attempts] == [0, 1, 2, 4]
    assert [acc for _, acc in result.attempts] == pytest.approx(
        [1 - (count - kept) / 100 for kept in (0, 1, 2, 4)]
    )
    assert result.within_budget and len(result.float_nodes) == 4
    assert result.float_nodes[0] == BROKEN_NODE  # ranked worst by its local SQNR
    assert set(result.float_nodes) <= products(out)  # still in the graph, in float
    assert quantized_products(out) == products(out) - set(result.float_nodes)
    assert result.accuracy == penalty(out)
    assert result.recipe["float_nodes"] == list(result.float_nodes)
    assert result.recipe["float_node_sqnr_db"][BROKEN_NODE] < 5


def test_an_unreachable_budget_keeps_the_most_accurate_try(tiny: Path, tmp_path: Path) -> None:
    result, out = quantize(tiny, tmp_path, budget_pt=0.0, max_attempts=3)
    assert [kept for kept, _ in result.attempts] == [0, 1, 2]
    assert not result.within_budget
    assert len(result.float_nodes) == 2 and result.accuracy == max(a for _, a in result.attempts)
    assert quantized_products(out) == products(tiny) - set(result.float_nodes)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"calibration": []}, "no calibration feeds"),
        ({"calibration": [{"input_ids": CALIBRATION[0]["input_ids"]}]}, "calibration feed 0"),
        ({"budget_pt": -0.5}, "budget_pt"),
        ({"reference_accuracy": 93.4}, "reference_accuracy"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"evaluate": lambda path: 2.0}, "must return an accuracy in"),
    ],
)
def test_bad_input_raises_and_leaves_the_output_alone(
    tiny: Path, tmp_path: Path, overrides: dict[str, Any], message: str
) -> None:
    out = tmp_path / "static.onnx"
    out.write_bytes(b"a good model")
    with pytest.raises(CompressError, match=message) as caught:
        quantize(tiny, tmp_path, **overrides)
    assert "\n" not in str(caught.value)
    assert out.read_bytes() == b"a good model"


def test_a_missing_model_raises(tmp_path: Path) -> None:
    with pytest.raises(CompressError, match="does not exist"):
        quantize(tmp_path / "nope.onnx", tmp_path)
