"""Static INT8 (QDQ) with calibration, and an accuracy-aware fallback that keeps the worst nodes float.

The graph quantized is the plain exported one (after ONNX Runtime's
pre-processing), not the transformer-fused one: every MatMul stays a standard
op that the QDQ quantizer understands, while fused com.microsoft ops
(Attention) hide their projections from it. ONNX Runtime re-applies the
LayerNorm and GELU fusions, and folds each DequantizeLinear -> MatMul into
an integer kernel, when it loads the QDQ model, so a fused input (accepted,
and recorded in the recipe) ends up as the same runtime graph at best.

Only MatMul, Gemm and (embedding) Gather are quantized, and the products'
outputs stay float: the integer kernels then write float directly
(MatMulIntegerToFloat), and the 8-bit rounding of BERT's outlier-heavy FFN
outputs, which costs far more accuracy than it saves time, never happens.
Add, Softmax and LayerNorm have no integer kernels: Q/DQ around them would
only add rounding and work.
"""

from __future__ import annotations

import inspect
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mlcost.compress._cpu import Int8Settings
from mlcost.compress._onnx import quiet_tools
from mlcost.core import CompressError, require

# Embedding Gathers are quantized for size (int8 tables, 4x smaller); only the
# matrix products are ranked and can be kept float by the fallback.
QUANTIZED_OP_TYPES = ("MatMul", "Gemm", "Gather")
RANKED_OP_TYPES = ("MatMul", "Gemm")
# Feeds (from the start of the calibration set) used to rank nodes for the fallback.
RANKING_FEEDS = 8
# ONNX Runtime's defaults, recorded in the recipe.
PERCENTILE = 99.999
_CALIBRATION_BINS = {"percentile": 2048, "entropy": 128}
_TINY = 1e-30  # noise floor: a node quantized without error ranks last

Feed = dict[str, np.ndarray]


@dataclass(frozen=True, slots=True)
class StaticResult:
    """What quantize_static_int8 produced and how it got there."""

    accuracy: float
    float_nodes: tuple[str, ...]
    attempts: tuple[tuple[int, float], ...]
    within_budget: bool
    recipe: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Attempt:
    float_nodes: tuple[str, ...]
    path: Path
    accuracy: float


class _FeedReader:
    """ONNX Runtime's CalibrationDataReader protocol over a list of feeds.

    ``set_range`` lets ORT calibrate one feed at a time, so feeds of
    different sequence lengths work with the histogram calibrators too.
    """

    def __init__(self, feeds: Sequence[Feed]) -> None:
        self._feeds = list(feeds)
        self._rest: Iterator[Feed] = iter(self._feeds)

    def get_next(self) -> Feed | None:
        return next(self._rest, None)

    def __len__(self) -> int:
        return len(self._feeds)

    def set_range(self, start_index: int, end_index: int) -> None:
        self._rest = iter(self._feeds[start_index:end_index])


def quantize_static_int8(
    fp32_path: Path,
    out_path: Path,
    *,
    calibration: Sequence[Feed],
    settings: Int8Settings,
    evaluate: Callable[[Path], float],
    reference_accuracy: float,
    budget_pt: float,
    method: Literal["percentile", "entropy"] = "percentile",
    work_dir: Path,
    max_attempts: int = 6,
) -> StaticResult:
    """Static INT8 QDQ model at out_path whose accuracy drop stays within budget_pt if it can.

    Calibrates activation ranges on ``calibration`` (feeds from the training
    split), quantizes MatMul, Gemm and embedding Gather (uint8 activations,
    int8 weights, per_channel and reduce_range from ``settings``), and
    evaluates. While ``reference_accuracy - accuracy`` exceeds ``budget_pt``
    points, the nodes with the lowest local SQNR are kept float, 1, 2, 4, ...
    of them, for at most ``max_attempts`` tries in all. Without success the
    most accurate try is kept. ``evaluate`` gets a file in ``work_dir`` that
    is deleted afterwards. out_path is replaced atomically, at the end.

    Raises CompressError, before anything is written, for a missing or
    invalid model, empty or mismatched calibration feeds, a negative budget,
    a reference accuracy outside [0, 1] or max_attempts < 1; and when ONNX
    Runtime cannot quantize the model or evaluate returns a value outside
    [0, 1] (out_path is then left as it was).
    """
    onnx = require("onnx", extra="compress", purpose="INT8 quantization")
    _check_arguments(fp32_path, budget_pt, reference_accuracy, max_attempts, method)
    graph = _load_graph(onnx, fp32_path)
    _check_feeds(graph, fp32_path.name, calibration)
    is_fused = any(node.domain == "com.microsoft" for node in graph.node)
    quantization = require(
        "onnxruntime.quantization", extra="compress", purpose="INT8 quantization"
    )
    work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="static-int8-", dir=work_dir) as scratch_name:
        scratch = Path(scratch_name)
        float_path = scratch / "preprocessed.onnx"
        _preprocess(fp32_path, float_path)
        cache = scratch / "calibration.json" if _has_calibration_cache(quantization) else None
        tried: list[_Attempt] = []

        def attempt(float_nodes: tuple[str, ...]) -> bool:
            path = scratch / f"attempt-{len(tried)}.onnx"
            _quantize(
                quantization, float_path, path, calibration, settings, method, float_nodes, cache
            )
            accuracy = _checked_accuracy(evaluate(path), path)
            tried.append(_Attempt(float_nodes, path, accuracy))
            return (reference_accuracy - accuracy) * 100 <= budget_pt + 1e-9

        met = attempt(())
        sqnr_db: dict[str, float] = {}
        if not met and max_attempts > 1:
            sqnr_db = node_sqnr_db(float_path, tried[0].path, calibration[:RANKING_FEEDS], scratch)
            ranked = sorted(sqnr_db, key=sqnr_db.__getitem__)
            for count in _fallback_sizes(len(ranked), max_attempts - 1):
                if met := attempt(tuple(ranked[:count])):
                    break
        chosen = tried[-1] if met else max(tried, key=lambda a: (a.accuracy, -len(a.float_nodes)))
        _replace_atomically(chosen.path, out_path)
    attempts = tuple((len(a.float_nodes), a.accuracy) for a in tried)
    recipe = _recipe(settings, method, calibration, chosen, attempts, sqnr_db, budget_pt)
    recipe["graph"] = "transformer-fused" if is_fused else "exported (unfused)"
    return StaticResult(chosen.accuracy, chosen.float_nodes, attempts, met, recipe)


def _check_arguments(
    fp32_path: Path, budget_pt: float, reference_accuracy: float, max_attempts: int, method: str
) -> None:
    if not fp32_path.is_file():
        raise CompressError(
            f"{fp32_path} does not exist; export the model first (mlcost.compress.export_onnx)"
        )
    if not budget_pt >= 0:  # also rejects NaN
        raise CompressError(f"budget_pt is {budget_pt}; give the allowed drop as >= 0 points")
    if not 0 <= reference_accuracy <= 1:
        raise CompressError(
            f"reference_accuracy is {reference_accuracy}; give the fp32 accuracy in [0, 1]"
        )
    if max_attempts < 1:
        raise CompressError(f"max_attempts is {max_attempts}; allow at least 1 try")
    if method not in _CALIBRATION_BINS:
        raise CompressError(f"unknown calibration method {method!r}; use percentile or entropy")


def _load_graph(onnx: Any, path: Path) -> Any:
    try:
        return onnx.load(str(path), load_external_data=False).graph
    except Exception as exc:  # protobuf raises DecodeError, onnx its own types
        raise CompressError(
            f"{path} is not an ONNX model: {exc}; export it with mlcost.compress.export_onnx"
        ) from exc


def _check_feeds(graph: Any, model_name: str, calibration: Sequence[Feed]) -> None:
    if not calibration:
        raise CompressError(
            "no calibration feeds; pass a few dozen tokenised rows from the training split"
        )
    initializers = {tensor.name for tensor in graph.initializer}
    needed = sorted(i.name for i in graph.input if i.name not in initializers)
    for index, feed in enumerate(calibration):
        if sorted(feed) != needed:
            raise CompressError(
                f"calibration feed {index} has inputs {sorted(feed)}; {model_name} takes {needed}"
            )


def _checked_accuracy(accuracy: float, path: Path) -> float:
    if not 0 <= accuracy <= 1:
        raise CompressError(
            f"evaluate({path.name}) returned {accuracy}; it must return an accuracy in [0, 1]"
        )
    return float(accuracy)


def _fallback_sizes(node_count: int, tries: int) -> list[int]:
    """How many nodes to keep float at each retry: 1, 2, 4, ... capped at node_count."""
    sizes: list[int] = []
    size = 1
    while node_count and len(sizes) < tries:
        sizes.append(min(size, node_count))
        if size >= node_count:
            break
        size *= 2
    return sizes


def _preprocess(src: Path, dst: Path) -> None:
    shape_inference = require(
        "onnxruntime.quantization.shape_inference", extra="compress", purpose="INT8 quantization"
    )
    try:
        with quiet_tools():
            # Without auto_merge, symbolic shape inference stops on exported BERT graphs
            # ("Incomplete symbolic shape inference").
            shape_inference.quant_pre_process(str(src), str(dst), auto_merge=True)
    except Exception as exc:  # ORT raises bare Exception for incomplete shape inference
        raise CompressError(
            f"ONNX Runtime cannot pre-process {src.name} for quantization: {exc}; "
            "re-export it with mlcost.compress.export_onnx"
        ) from exc


def _has_calibration_cache(quantization: Any) -> bool:
    """Newer ONNX Runtime reuses calibrated ranges across tries instead of recalibrating."""
    return "calibration_cache_path" in inspect.signature(quantization.quantize_static).parameters


def _quantize(
    quantization: Any,
    src: Path,
    dst: Path,
    calibration: Sequence[Feed],
    settings: Int8Settings,
    method: str,
    float_nodes: tuple[str, ...],
    cache: Path | None,
) -> None:
    options = {
        "CalibStridedMinMax": 1,  # one feed per collection pass: mixed lengths, bounded memory
        "OpTypesToExcludeOutputQuantization": list(RANKED_OP_TYPES),
    }
    methods = quantization.CalibrationMethod
    calibrate_method = methods.Percentile if method == "percentile" else methods.Entropy
    cache_option = {"calibration_cache_path": str(cache)} if cache is not None else {}
    try:
        with quiet_tools():
            quantization.quantize_static(
                str(src),
                str(dst),
                _FeedReader(calibration),
                quant_format=quantization.QuantFormat.QDQ,
                op_types_to_quantize=list(QUANTIZED_OP_TYPES),
                per_channel=settings.per_channel,
                reduce_range=settings.reduce_range,
                activation_type=quantization.QuantType.QUInt8,
                weight_type=quantization.QuantType.QInt8,
                nodes_to_exclude=list(float_nodes),
                calibrate_method=calibrate_method,
                extra_options=options,
                **cache_option,
            )
    except Exception as exc:  # calibration and quantization raise many types
        raise CompressError(
            f"ONNX Runtime cannot statically quantize {src.name}: {exc}; "
            "check that the calibration feeds are valid inputs for the model"
        ) from exc


def node_sqnr_db(
    float_path: Path, qdq_path: Path, feeds: Sequence[Feed], scratch: Path
) -> dict[str, float]:
    """Local SQNR in dB of each quantized MatMul/Gemm of a QDQ model (lower is worse).

    Each node is computed twice on the QDQ model's own activations: on its
    float inputs (before QuantizeLinear, float weights from ``float_path``)
    and on its quantize-dequantized inputs. The ratio of output energy to
    the energy of the difference isolates the error this node's
    quantization adds, whatever happened upstream. Raises CompressError
    when ONNX Runtime cannot run the QDQ model.
    """
    onnx = require("onnx", extra="compress", purpose="INT8 quantization")
    float_model = onnx.load(str(float_path))
    qdq_model = onnx.load(str(qdq_path))
    pairs = _quantized_pairs(float_model, qdq_model)
    float_constants = _initializers(onnx, float_model)
    qdq_constants = _initializers(onnx, qdq_model)
    produced = {output for node in qdq_model.graph.node for output in node.output}
    wanted = sorted(
        {name for pair in pairs for node in pair for name in node.input}
        & (produced - qdq_constants.keys())
    )
    session = _probe_session(onnx, qdq_model, wanted, scratch / "probe.onnx")
    signal = dict.fromkeys((f.name for f, _ in pairs), 0.0)
    noise = dict(signal)
    for feed in feeds:
        values = {**feed, **_run(session, wanted, feed)}
        for float_node, qdq_node in pairs:
            inputs_f = _inputs(float_node, float_constants, values)
            inputs_q = _inputs(qdq_node, qdq_constants, values)
            if inputs_f is None or inputs_q is None:
                continue  # a tensor the probe could not see: leave this node unranked
            expected = _apply(onnx, float_node, inputs_f)
            error = expected - _apply(onnx, qdq_node, inputs_q)
            signal[float_node.name] += float(np.sum(np.square(expected, dtype=np.float64)))
            noise[float_node.name] += float(np.sum(np.square(error, dtype=np.float64)))
    return {
        name: 10 * math.log10(signal[name] / max(noise[name], _TINY))
        for name in signal
        if signal[name] > 0
    }


def _inputs(
    node: Any, constants: dict[str, np.ndarray], values: dict[str, np.ndarray]
) -> list[np.ndarray] | None:
    """The node's input arrays, or None when one is neither a constant nor probed."""
    found = [constants.get(name, values.get(name)) for name in node.input if name]
    return None if any(x is None for x in found) else [x for x in found if x is not None]


def _quantized_pairs(float_model: Any, qdq_model: Any) -> list[tuple[Any, Any]]:
    """(float node, QDQ node) for every MatMul/Gemm that reads a DequantizeLinear output."""
    dequantized = {
        output
        for node in qdq_model.graph.node
        if node.op_type == "DequantizeLinear"
        for output in node.output
    }
    float_nodes = {node.name: node for node in float_model.graph.node if node.name}
    return [
        (float_nodes[node.name], node)
        for node in qdq_model.graph.node
        if node.op_type in RANKED_OP_TYPES
        and node.name in float_nodes
        and any(name in dequantized for name in node.input)
    ]


def _initializers(onnx: Any, model: Any) -> dict[str, np.ndarray]:
    return {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}


def _probe_session(onnx: Any, model: Any, names: Sequence[str], probe_path: Path) -> Any:
    """An ORT session of ``model`` that also outputs the named tensors (optimizations off)."""
    ort = require("onnxruntime", extra="compress", purpose="INT8 quantization")
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    existing = {output.name for output in probe.graph.output}
    for name in names:
        if name not in existing:
            probe.graph.output.append(
                onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None)
            )
    onnx.save(probe, str(probe_path))
    options = ort.SessionOptions()
    # Unfused Q/DQ keeps every dequantized tensor visible and computed exactly as simulated.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(probe_path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own Fail/InvalidArgument types
        raise CompressError(f"cannot load the QDQ model to rank its nodes: {exc}") from exc


def _run(session: Any, names: Sequence[str], feed: Feed) -> dict[str, np.ndarray]:
    try:
        return dict(zip(names, session.run(list(names), feed), strict=True))
    except Exception as exc:  # ORT raises its own Fail/InvalidArgument types
        raise CompressError(
            f"cannot run the QDQ model to rank its nodes: {exc}; check the calibration feeds"
        ) from exc


def _apply(onnx: Any, node: Any, inputs: Sequence[np.ndarray]) -> np.ndarray:
    """A MatMul or Gemm node evaluated in numpy."""
    if node.op_type == "MatMul":
        return np.asarray(np.matmul(inputs[0], inputs[1]))
    attributes = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    a = inputs[0].T if attributes.get("transA", 0) else inputs[0]
    b = inputs[1].T if attributes.get("transB", 0) else inputs[1]
    result = attributes.get("alpha", 1.0) * (a @ b)
    if len(inputs) > 2:
        result = result + attributes.get("beta", 1.0) * inputs[2]
    return np.asarray(result)


def _replace_atomically(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent)
    os.close(handle)
    try:
        shutil.copyfile(src, temp_name)
        Path(temp_name).replace(dst)  # os.replace: atomic within one folder
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def _recipe(
    settings: Int8Settings,
    method: str,
    calibration: Sequence[Feed],
    chosen: _Attempt,
    attempts: tuple[tuple[int, float], ...],
    sqnr_db: dict[str, float],
    budget_pt: float,
) -> dict[str, Any]:
    calibration_options: dict[str, Any] = {"bins": _CALIBRATION_BINS[method]}
    if method == "percentile":
        calibration_options["percentile"] = PERCENTILE
    return {
        "method": "static-int8",
        "format": "QDQ",
        "op_types": list(QUANTIZED_OP_TYPES),
        "product_outputs_quantized": False,
        "activation_type": "uint8",
        "weight_type": "int8",
        "per_channel": settings.per_channel,
        "reduce_range": settings.reduce_range,
        "calibration": method,
        "calibration_options": calibration_options,
        "calibration_feeds": len(calibration),
        "calibration_samples": sum(_rows(feed) for feed in calibration),
        "ranking_metric": "local output SQNR (dB), lowest first",
        "ranking_feeds": min(len(calibration), RANKING_FEEDS),
        "budget_pt": budget_pt,
        "attempts": [list(pair) for pair in attempts],
        "float_nodes": list(chosen.float_nodes),
        "float_node_sqnr_db": {name: round(sqnr_db[name], 2) for name in chosen.float_nodes},
    }


def _rows(feed: Feed) -> int:
    first = next(iter(feed.values()))
    return int(np.shape(first)[0]) if np.ndim(first) else 1
