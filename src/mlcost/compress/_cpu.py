"""The INT8 quantization settings that follow from a CPU's features."""

from __future__ import annotations

from dataclasses import dataclass

from mlcost.runtime import CpuFeatures


@dataclass(frozen=True, slots=True)
class Int8Settings:
    """ONNX Runtime dynamic-quantization settings chosen for one CPU, and why."""

    per_channel: bool
    reduce_range: bool
    reason: str
    warning: str | None = None


def int8_settings(cpu: CpuFeatures) -> Int8Settings:
    """Per-channel weights always; 7-bit weights (reduce_range) where the kernels could overflow.

    x86 without VNNI multiplies u8 x s8 with VPMADDUBSW, whose 16-bit
    intermediate sums saturate with full 8-bit weights: ONNX Runtime's
    guidance is reduce_range there. VNNI and Arm dot-product kernels
    accumulate in 32 bits and need no such care.
    """
    if cpu.is_arm:
        return Int8Settings(True, False, "Arm: 32-bit accumulating dot products")
    if cpu.has_vnni:
        return Int8Settings(True, False, "VNNI: 32-bit accumulating INT8 dot products")
    warning = (
        f"{cpu.model} has no VNNI: INT8 runs on AVX2 multiply-add and speeds up less than on VNNI CPUs"
        if cpu.has_avx2
        else f"{cpu.model} has neither VNNI nor AVX2: expect little INT8 speed-up"
    )
    return Int8Settings(
        True, True, "x86 without VNNI: 7-bit weights avoid u8s8 saturation", warning
    )
