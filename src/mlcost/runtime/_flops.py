"""FLOPs per inference, counted from an ONNX graph at batch 1 and a given sequence length.

One multiply-add counts as 2 FLOPs (integer MACs too, so an INT8 graph counts
the same work as its FP32 parent). Counted: MatMul and its integer and
quantized forms (MatMulInteger, QLinearMatMul, MatMulIntegerToFloat, and a
MatMul between DequantizeLinear outputs in a QDQ graph), Gemm, Conv and its
quantized forms, and ONNX Runtime's fused Attention / QAttention (the QKV
projection plus the score and context products) and MultiHeadAttention.
Element-wise work (softmax, layer norm, GELU) is left out: it is a few percent
of a transformer's FLOPs and not what a GPU's peak rating measures.

Shapes come from ONNX shape inference after the dynamic axes are fixed (the
first axis of each input to the batch, the others to the sequence length),
completed by a small propagation for ONNX Runtime's contrib operators, which
the standard inference does not know. A MatMul behind a Reshape to a shape
computed at run time that ONNX's data propagation cannot follow stays
uncounted and is named in ``GraphFlops.unresolved`` (an unfused QDQ graph's
attention products, a few percent of its FLOPs).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlcost.core import UsageError, require

Shape = tuple[int, ...]

_MATMULS = {
    "MatMul": (0, 1),
    "MatMulInteger": (0, 1),
    "MatMulIntegerToFloat": (0, 1),
    "DynamicQuantizeMatMul": (0, 1),
    "QLinearMatMul": (0, 3),
}
_CONVS = {"Conv": 1, "ConvInteger": 1, "QLinearConv": 3}
# Operators whose first output has the shape of their first input.
_SAME_SHAPE = {
    "Cast",
    "QuantizeLinear",
    "DequantizeLinear",
    "DynamicQuantizeLinear",
    "SkipLayerNormalization",
    "SkipSimplifiedLayerNormalization",
    "LayerNormalization",
    "SimplifiedLayerNormalization",
    "BiasGelu",
    "FastGelu",
    "Gelu",
    "QuickGelu",
    "Relu",
    "Tanh",
    "Erf",
    "Softmax",
    "BiasAdd",
}
_ELEMENTWISE = {"Add", "Mul", "Sub", "Div", "Where"}


@dataclass(frozen=True, slots=True)
class GraphFlops:
    """FLOPs of one inference, by operator type, and the counted nodes whose shapes were unknown."""

    total_flops: float
    by_op_type: dict[str, float] = field(default_factory=dict)
    unresolved: tuple[str, ...] = ()


def count_flops(model_path: str | Path, tokens: int, *, batch: int = 1) -> GraphFlops:
    """FLOPs of one inference of the ONNX model at ``model_path`` on ``tokens`` tokens.

    Raises UsageError when the file is missing, MissingDependencyError without onnx.
    """
    path = Path(model_path)
    if not path.is_file():
        raise UsageError(f"no ONNX model at {path}; pass the model.onnx of an ONNX variant")
    onnx = require("onnx", extra="compress", purpose="counting FLOPs in an ONNX graph")
    model = onnx.load(str(path), load_external_data=False)
    return graph_flops(model, tokens, batch=batch)


def graph_flops(model: Any, tokens: int, *, batch: int = 1) -> GraphFlops:
    """FLOPs of one inference of an in-memory ``onnx.ModelProto`` (see ``count_flops``)."""
    if tokens < 1 or batch < 1:
        raise UsageError(
            f"tokens and batch must be >= 1 (got {tokens}, {batch}); pass a sequence length"
        )
    shapes = _infer_shapes(model, tokens, batch)
    by_op: dict[str, float] = {}
    unresolved: list[str] = []
    for node in model.graph.node:
        flops = _node_flops(node, shapes)
        if flops is None:
            unresolved.append(node.name or node.op_type)
        elif flops:
            by_op[node.op_type] = by_op.get(node.op_type, 0.0) + flops
        _propagate(node, shapes)
    return GraphFlops(sum(by_op.values()), by_op, tuple(unresolved))


def _infer_shapes(model: Any, tokens: int, batch: int) -> dict[str, Shape]:
    import onnx

    fixed = onnx.ModelProto()
    fixed.CopyFrom(model)
    for tensor in fixed.graph.initializer:
        # Shape inference needs the weights' dims, not their bytes; dropping large ones keeps it fast.
        if math.prod(tensor.dims) > 4096:
            tensor.ClearField("raw_data")
            tensor.data_location = onnx.TensorProto.DEFAULT
            del tensor.external_data[:]
    initializer_names = {t.name for t in fixed.graph.initializer}
    for value in fixed.graph.input:
        if value.name in initializer_names:
            continue
        for axis, dim in enumerate(value.type.tensor_type.shape.dim):
            if not dim.HasField("dim_value"):
                dim.dim_value = batch if axis == 0 else tokens
    try:
        inferred = onnx.shape_inference.infer_shapes(fixed, strict_mode=False, data_prop=True)
    except Exception:  # noqa: BLE001 - fall back to our own propagation below
        inferred = fixed
    shapes: dict[str, Shape] = {t.name: tuple(t.dims) for t in model.graph.initializer}
    graph = inferred.graph
    for value in [*graph.input, *graph.value_info, *graph.output]:
        dims = value.type.tensor_type.shape.dim
        if value.type.tensor_type.HasField("shape") and all(d.HasField("dim_value") for d in dims):
            shapes.setdefault(value.name, tuple(d.dim_value for d in dims))
    for node in graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    shapes.setdefault(node.output[0], tuple(attr.t.dims))
    return shapes


def _attr(node: Any, name: str, default: Any) -> Any:
    for attr in node.attribute:
        if attr.name == name:
            if attr.ints:
                return list(attr.ints)
            return attr.i if attr.type == attr.INT else attr.f
    return default


def _input_shape(node: Any, index: int, shapes: dict[str, Shape]) -> Shape | None:
    if index >= len(node.input) or not node.input[index]:
        return None
    return shapes.get(node.input[index])


def _node_flops(node: Any, shapes: dict[str, Shape]) -> float | None:
    """FLOPs of one node; 0.0 for operators not counted, None for counted ones of unknown shape."""
    op = node.op_type
    if op in _MATMULS:
        a_index, b_index = _MATMULS[op]
        a, b = _input_shape(node, a_index, shapes), _input_shape(node, b_index, shapes)
        return None if a is None or b is None else _matmul_flops(a, b)
    if op == "Gemm":
        a, b = _input_shape(node, 0, shapes), _input_shape(node, 1, shapes)
        if a is None or b is None or len(a) != 2 or len(b) != 2:
            return None
        m, k = (a[1], a[0]) if _attr(node, "transA", 0) else a
        n = b[0] if _attr(node, "transB", 0) else b[1]
        return 2.0 * m * k * n
    if op in ("Attention", "QAttention"):
        return _attention_flops(node, shapes)
    if op == "MultiHeadAttention":
        query, key = _input_shape(node, 0, shapes), _input_shape(node, 1, shapes)
        if query is None or len(query) != 3:
            return None
        kv_len = key[1] if key is not None and len(key) == 3 else query[1]
        return 2.0 * 2.0 * query[0] * query[1] * kv_len * query[2]
    if op in _CONVS:
        weight = _input_shape(node, _CONVS[op], shapes)
        out = shapes.get(node.output[0])
        if weight is None or out is None:
            return None
        return 2.0 * math.prod(out) * math.prod(weight[1:])
    return 0.0


def _matmul_flops(a: Shape, b: Shape) -> float | None:
    if not a or not b:
        return None
    a2 = (1, *a) if len(a) == 1 else a
    b2 = (*b, 1) if len(b) == 1 else b
    m, k, n = a2[-2], a2[-1], b2[-1]
    stack = _broadcast(a2[:-2], b2[:-2])
    return None if stack is None else 2.0 * math.prod(stack) * m * k * n


def _attention_flops(node: Any, shapes: dict[str, Shape]) -> float | None:
    """ORT's fused self-attention: input [B, S, H_in] x weight [H_in, 3H], then QK^T and PV."""
    x, weight = _input_shape(node, 0, shapes), _input_shape(node, 1, shapes)
    if x is None or weight is None or len(x) != 3 or len(weight) != 2:
        return None
    b, s, h_in = x
    sizes = _attr(node, "qkv_hidden_sizes", None)
    h_q, h_k, h_v = sizes if sizes else (weight[1] // 3,) * 3
    projection = 2.0 * b * s * h_in * (h_q + h_k + h_v)
    scores = 2.0 * b * s * s * h_q  # every head: S x S x head_size
    context = 2.0 * b * s * s * h_v
    return projection + scores + context


def _broadcast(a: Sequence[int], b: Sequence[int]) -> Shape | None:
    width = max(len(a), len(b))
    a = (1,) * (width - len(a)) + tuple(a)
    b = (1,) * (width - len(b)) + tuple(b)
    out = []
    for x, y in zip(a, b, strict=True):
        if x != y and 1 not in (x, y):
            return None
        out.append(max(x, y))
    return tuple(out)


def _propagate(node: Any, shapes: dict[str, Shape]) -> None:
    """Fill the output shapes ONNX shape inference left unknown (contrib operators)."""
    if not node.output or node.output[0] in shapes:
        return
    op, out = node.op_type, node.output[0]
    first = _input_shape(node, 0, shapes)
    if op in _SAME_SHAPE and first is not None:
        shapes[out] = first
    elif op in _ELEMENTWISE:
        known = [s for s in (shapes.get(i) for i in node.input) if s is not None]
        if known:
            shapes[out] = max(known, key=len)
    elif op in _MATMULS:
        a_index, b_index = _MATMULS[op]
        a, b = _input_shape(node, a_index, shapes), _input_shape(node, b_index, shapes)
        if a is not None and b is not None and len(a) >= 2 and len(b) >= 2:
            stack = _broadcast(a[:-2], b[:-2])
            if stack is not None:
                shapes[out] = (*stack, a[-2], b[-1])
    elif op in ("Attention", "QAttention"):
        weight = _input_shape(node, 1, shapes)
        sizes = _attr(node, "qkv_hidden_sizes", None)
        if first is not None and weight is not None and len(first) == 3:
            shapes[out] = (first[0], first[1], sizes[2] if sizes else weight[1] // 3)
    elif op == "Gemm":
        a, b = first, _input_shape(node, 1, shapes)
        if a is not None and b is not None and len(a) == 2 and len(b) == 2:
            m = a[1] if _attr(node, "transA", 0) else a[0]
            shapes[out] = (m, b[0] if _attr(node, "transB", 0) else b[1])
    elif op == "Gather":
        indices = _input_shape(node, 1, shapes)
        if first is not None and indices is not None:
            axis = int(_attr(node, "axis", 0)) % len(first)
            shapes[out] = (*first[:axis], *indices, *first[axis + 1 :])
    elif op in ("EmbedLayerNormalization", "QEmbedLayerNormalization"):
        ids, words = _input_shape(node, 0, shapes), _input_shape(node, 2, shapes)
        if ids is not None and words is not None:
            shapes[out] = (*ids, words[-1])
