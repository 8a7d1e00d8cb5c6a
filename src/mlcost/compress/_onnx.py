"""Torch -> ONNX export with a numerical check, ONNX Runtime graph fusions, dynamic INT8."""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from mlcost.core import CompressError, require
from mlcost.runtime import load_classifier

# Logits of an exported model may differ from eager PyTorch by float rounding only.
EXPORT_TOLERANCE = 1e-4
INPUT_NAMES = ("input_ids", "attention_mask")


@contextlib.contextmanager
def quiet_tools() -> Iterator[None]:
    """Hide the exporter's and ORT tools' progress prints, root-logger advice and warnings."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def _sample_batch(tokenizer: Any) -> dict[str, Any]:
    texts = ["a short one", "a somewhat longer sentence to check the dynamic sequence axis works"]
    return dict(tokenizer(texts, return_tensors="pt", padding=True))


def export_onnx(model_dir: Path, out_path: Path, *, opset: int = 17) -> float:
    """Export a HF sequence classifier with dynamic batch and sequence axes; returns max |diff|.

    The exported graph is run on a batch of two texts of different lengths
    and compared with PyTorch. Raises CompressError when export fails or the
    outputs differ by more than EXPORT_TOLERANCE.
    """
    torch = require("torch", extra="train", purpose="ONNX export")
    transformers = require("transformers", extra="train", purpose="ONNX export")
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
        # Eager attention exports as plain MatMul/Softmax, which ONNX Runtime fuses into its
        # Attention kernel; the SDPA graph of transformers' default is left unfused.
        model = load_classifier(model_dir, attn_implementation="eager").eval()
    except (OSError, ValueError, KeyError) as exc:
        raise CompressError(
            f"cannot load a sequence classifier and tokenizer from {model_dir}: {exc}"
        ) from exc
    batch = _sample_batch(tokenizer)
    inputs = tuple(batch[name] for name in INPUT_NAMES)
    axes = {name: {0: "batch", 1: "sequence"} for name in INPUT_NAMES} | {"logits": {0: "batch"}}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with quiet_tools():
            torch.onnx.export(
                model,
                inputs,
                str(out_path),
                input_names=list(INPUT_NAMES),
                output_names=["logits"],
                dynamic_axes=axes,
                opset_version=opset,
                dynamo=False,
            )
    except Exception as exc:  # the exporter raises many types; all mean "cannot export"
        raise CompressError(f"cannot export {model_dir} to ONNX: {exc}") from exc
    with torch.no_grad():
        expected = model(*inputs).logits.numpy()
    diff = float(
        np.abs(run_onnx(out_path, {n: batch[n].numpy() for n in INPUT_NAMES}) - expected).max()
    )
    if diff > EXPORT_TOLERANCE:
        raise CompressError(
            f"the ONNX export of {model_dir} differs from PyTorch by {diff:.2e} (> {EXPORT_TOLERANCE:g})"
        )
    return diff


def run_onnx(path: Path, feeds: dict[str, np.ndarray], *, threads: int = 1) -> np.ndarray:
    """Logits of an ONNX model on the CPU execution provider."""
    ort = require("onnxruntime", extra="compress", purpose="running ONNX models")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    result: np.ndarray = session.run(["logits"], feeds)[0]
    return result


def optimize_transformer(
    in_path: Path, out_path: Path, *, num_heads: int, hidden_size: int
) -> None:
    """ONNX Runtime's transformer fusions (attention, layer norm, GELU) for a BERT-style graph.

    ``num_heads`` and ``hidden_size`` are the model config's. A pruned model
    keeps the head size (hidden_size // num_heads) but has fewer heads in some
    layers, which the graph does not state (transformers reshapes with -1), so
    each fused Attention node gets the head count its weights hold. Raises
    CompressError if a fused node's width is not a whole number of heads.
    """
    optimizer = require(
        "onnxruntime.transformers.optimizer", extra="compress", purpose="graph optimization"
    )
    with quiet_tools():
        optimized = optimizer.optimize_model(
            str(in_path), model_type="bert", num_heads=num_heads, hidden_size=hidden_size
        )
    if num_heads > 0 and hidden_size > 0:
        _set_head_counts(optimized.model, hidden_size // num_heads, in_path)
    optimized.save_model_to_file(str(out_path))


def _set_head_counts(model: Any, head_size: int, source: Path) -> None:
    """Set num_heads of each fused Attention node to its query width / ``head_size``."""
    shapes = {initializer.name: list(initializer.dims) for initializer in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type != "Attention":
            continue
        attributes = {attribute.name: attribute for attribute in node.attribute}
        if "qkv_hidden_sizes" in attributes:
            width = int(attributes["qkv_hidden_sizes"].ints[0])
        elif len(shapes.get(node.input[1], [])) == 2:
            width = shapes[node.input[1]][1] // 3  # Q, K and V weights side by side
        else:
            raise CompressError(
                f"cannot tell how many heads the fused attention {node.name} of {source} has;"
                " optimize with num_heads=0 and hidden_size=0 to skip attention fusion"
            )
        if width % head_size:
            raise CompressError(
                f"the fused attention {node.name} of {source} is {width} wide, not a multiple of"
                f" the head size {head_size}; pass the model config's num_heads and hidden_size"
            )
        attributes["num_heads"].i = width // head_size
