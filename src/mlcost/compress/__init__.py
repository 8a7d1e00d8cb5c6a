"""Compress: a trained model -> cheaper variants (ONNX, fused, INT8), each checked against its parent.

Input: a Hugging Face model folder (the teacher from `mlcost train`).
Output: Variant artifacts: onnx-fp32 (exported, verified, fused) and int8-dynamic (settings from the CPU).
"""

from __future__ import annotations

from mlcost.compress._cpu import Int8Settings, int8_settings
from mlcost.compress._onnx import (
    EXPORT_TOLERANCE,
    export_onnx,
    optimize_transformer,
    quantize_dynamic_int8,
    run_onnx,
)

__all__ = [
    "EXPORT_TOLERANCE",
    "Int8Settings",
    "export_onnx",
    "int8_settings",
    "optimize_transformer",
    "quantize_dynamic_int8",
    "run_onnx",
]
