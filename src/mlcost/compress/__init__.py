"""Compress: a trained model -> cheaper variants, each checked against its parent.

Input: a fine-tuned Hugging Face classifier folder (e.g. from `mlcost train`) and its labelled data.
Output: Variants: onnx-fp32, int8-dynamic, int8-static, fp16 (GPU), pruned and distilled (+ INT8).
"""

from __future__ import annotations

from mlcost.compress._cpu import Int8Settings, int8_settings
from mlcost.compress._inputs import METHODS, Inputs, check_inputs
from mlcost.compress._onnx import (
    EXPORT_TOLERANCE,
    export_onnx,
    optimize_transformer,
    run_onnx,
)
from mlcost.compress._pipeline import (
    CompressConfig,
    CompressResult,
    DistillSettings,
    Skipped,
    build_variants,
    make_student,
    student_layers,
)
from mlcost.compress._prune import PruneSettings, prune_classifier
from mlcost.compress._static import StaticResult, quantize_static_int8

__all__ = [
    "EXPORT_TOLERANCE",
    "METHODS",
    "CompressConfig",
    "CompressResult",
    "DistillSettings",
    "Inputs",
    "Int8Settings",
    "PruneSettings",
    "Skipped",
    "StaticResult",
    "build_variants",
    "check_inputs",
    "export_onnx",
    "int8_settings",
    "make_student",
    "optimize_transformer",
    "prune_classifier",
    "quantize_static_int8",
    "run_onnx",
    "student_layers",
]
