"""The INT8 recipes worth trying on the CPU at hand, and how each is built.

A recipe is one way ONNX Runtime's quantizer or OpenVINO's NNCF can make an
INT8 model; which is fastest depends on the CPU's kernels, so the compress
stage builds the ones that matter here and measures them (``_race``). The
space is pruned by instruction set, so a search stays within a few minutes on
2 cores:

- weights per channel or per tensor (per-tensor runs one scale per matrix:
  less work in the kernel, sometimes less accuracy);
- ``reduce_range`` (7-bit weights) only on x86 without VNNI, where AVX2's
  u8 x s8 multiply-add saturates 16-bit sums with full 8-bit weights; VNNI
  and Arm's dot products accumulate in 32 bits and need none;
- the graph: ONNX Runtime's transformer fusions first (one Attention node
  per layer, quantized to QAttention), or the attention left as MatMuls
  (MatMulInteger kernels). Keeping the fused attention in float was measured
  about 20 % slower on a 2-vCPU Xeon with AMX and is not tried;
- on an unfused graph, where integer dot products are fast (VNNI, Arm), the
  attention's activation-by-activation MatMuls in INT8 too (what Optimum's
  quantizer does; ONNX Runtime's ``quantize_dynamic`` keeps them in float);
- dynamic activations (quantized per batch at run time, no calibration) for
  ``int8-dynamic``; static ones (calibrated: ONNX Runtime's QDQ with its
  accuracy-aware fallback, and NNCF on OpenVINO) for ``int8-static``.

ONNX Runtime's session settings that move batch-1 latency (graph
optimisation level, thread spinning, memory arena) are tuned on the winner
(``SESSION_TRIES``), not multiplied into the space.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mlcost.compress._cpu import int8_settings
from mlcost.compress._onnx import quiet_tools
from mlcost.core import require
from mlcost.runtime import OPENVINO_FILE, CpuFeatures

Graph = Literal["fused", "unfused"]
Runtime = Literal["onnxruntime", "openvino"]

# ONNX Runtime session settings tried on the winning recipe, one change at a time.
SESSION_TRIES: tuple[dict[str, Any], ...] = (
    {"spinning": False},
    {"graph_optimization": "extended"},
    {"arena": False},
)


@dataclass(frozen=True, slots=True)
class Int8Recipe:
    """One INT8 recipe, by the names the variant's record keeps."""

    runtime: Runtime
    activations: Literal["dynamic", "static"]
    graph: Graph = "fused"
    per_channel: bool = True
    reduce_range: bool = False
    accuracy_aware: bool = False  # NNCF reverts layers to float until the budget is met
    # The attention's activation-by-activation MatMuls (Q.K^T, scores.V) in INT8 too, each
    # operand quantized at run time; ONNX Runtime's quantize_dynamic leaves them in float by
    # default (MatMulConstBOnly), Optimum's quantizer does not. Unfused graphs only (a fused
    # graph's attention is one Attention op).
    activation_matmuls: bool = False

    @property
    def name(self) -> str:
        if self.runtime == "openvino":
            return "openvino nncf static" + (", accuracy-aware" if self.accuracy_aware else "")
        weights = "per-channel" if self.per_channel else "per-tensor"
        reduce = ", 7-bit" if self.reduce_range else ""
        attention = ", int8 attention" if self.activation_matmuls else ""
        return f"ort {self.activations} {self.graph} {weights}{reduce}{attention}"

    @property
    def operators(self) -> tuple[str, ...]:
        """The operators ONNX Runtime's dynamic quantizer turns into integer kernels (the
        embedding tables too, 4x smaller, as its default does)."""
        if self.graph == "fused":
            return ("MatMul", "Attention", "Gather", "EmbedLayerNormalization")
        return ("MatMul", "Gather")

    def record(self) -> dict[str, Any]:
        """The recipe as the variant's record keeps it."""
        return {
            "runtime": self.runtime,
            "activations": self.activations,
            "graph": self.graph,
            "per_channel": self.per_channel,
            "reduce_range": self.reduce_range,
            "accuracy_aware": self.accuracy_aware,
            "activation_matmuls": self.activation_matmuls,
            "operators": list(self.operators) if self.runtime == "onnxruntime" else [],
            "name": self.name,
        }


def dynamic_recipes(cpu: CpuFeatures) -> list[Int8Recipe]:
    """The dynamic-activation recipes worth measuring on ``cpu`` (module docstring)."""
    reduce = int8_settings(cpu).reduce_range
    graphs: tuple[Graph, ...] = ("fused", "unfused")
    recipes = [
        Int8Recipe("onnxruntime", "dynamic", graph, per_channel, reduce)
        for graph in graphs
        for per_channel in (True, False)
    ]
    # INT8 attention matmuls pay where integer dot products are fast (VNNI, Arm i8mm/dotprod);
    # on plain AVX2 their run-time quantization costs more than it saves.
    if cpu.has_vnni or cpu.is_arm:
        recipes += [
            Int8Recipe("onnxruntime", "dynamic", "unfused", per_channel, reduce, False, True)
            for per_channel in (True, False)
        ]
    return recipes


def static_recipes(cpu: CpuFeatures, *, with_openvino: bool) -> list[Int8Recipe]:
    """ONNX Runtime's calibrated QDQ recipe, and NNCF on OpenVINO where it runs (x86 here)."""
    recipes = [
        Int8Recipe("onnxruntime", "static", "unfused", True, int8_settings(cpu).reduce_range)
    ]
    if with_openvino and not cpu.is_arm:
        recipes.append(Int8Recipe("openvino", "static", "unfused", True, False))
    return recipes


def build_dynamic(recipe: Int8Recipe, *, fused: Path, plain: Path, out: Path) -> None:
    """Quantize the fused or the plain graph (``recipe.graph``) into ``out`` (an .onnx file)."""
    quantization = require(
        "onnxruntime.quantization", extra="compress", purpose="INT8 quantization"
    )
    onnx = require("onnx", extra="compress", purpose="INT8 quantization")
    source = plain if recipe.graph == "unfused" else fused
    with quiet_tools():
        quantization.quantize_dynamic(
            str(source),
            str(out),
            weight_type=quantization.QuantType.QInt8,
            per_channel=recipe.per_channel,
            reduce_range=recipe.reduce_range,
            op_types_to_quantize=list(recipe.operators),
            # Fused com.microsoft ops carry no inferred types; their tensors are float.
            extra_options={
                "DefaultTensorType": onnx.TensorProto.FLOAT,
                "MatMulConstBOnly": not recipe.activation_matmuls,
            },
        )


def build_openvino(
    plain: Path,
    out_dir: Path,
    calibration: Sequence[dict[str, Any]],
    *,
    validation: tuple[Sequence[dict[str, Any]], Sequence[int], float] | None = None,
) -> None:
    """NNCF's post-training INT8 of the plain ONNX graph, saved as OpenVINO IR in ``out_dir``.

    ``model_type=TRANSFORMER`` keeps the attention's softmax and the layer norms
    in float, as NNCF advises for transformers; ``calibration`` are single-row
    feeds of real lengths. With ``validation`` (feeds, labels, budget in points)
    NNCF's accuracy-aware variant reverts the layers that cost most accuracy to
    float until the drop on those rows is within the budget.
    """
    ov = require("openvino", extra="compress", purpose="OpenVINO INT8")
    nncf = require("nncf", extra="compress", purpose="OpenVINO INT8")
    with quiet_tools():
        model = ov.convert_model(str(plain))
        names = [port.any_name for port in model.inputs]

        def feed(item: dict[str, Any]) -> dict[str, Any]:
            return {n: item[n] for n in names}

        dataset = nncf.Dataset(list(calibration), feed)
        if validation is None:
            quantized = nncf.quantize(
                model, dataset, model_type=nncf.ModelType.TRANSFORMER, subset_size=len(calibration)
            )
        else:
            feeds, labels, budget_pt = validation
            rows = [(feed(f), int(y)) for f, y in zip(feeds, labels, strict=True)]

            def accuracy(compiled: Any, items: Any) -> tuple[float, list[float]]:
                hits = [
                    float(int(compiled(inputs)[compiled.output(0)].argmax()) == label)
                    for inputs, label in items
                ]
                return sum(hits) / max(1, len(hits)), hits

            quantized = nncf.quantize_with_accuracy_control(
                model,
                dataset,
                nncf.Dataset(rows),
                accuracy,
                max_drop=budget_pt / 100.0,
                drop_type=nncf.DropType.ABSOLUTE,
                model_type=nncf.ModelType.TRANSFORMER,
                subset_size=len(calibration),
            )
        ov.save_model(quantized, str(out_dir / OPENVINO_FILE))
