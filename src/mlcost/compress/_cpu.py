"""What this CPU can do for INT8, and the quantization settings that follow from it."""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path

_CPUINFO = Path("/proc/cpuinfo")


@dataclass(frozen=True, slots=True)
class CpuFeatures:
    """The CPU model and the instruction-set features INT8 kernels use."""

    model: str
    machine: str
    flags: frozenset[str]

    @property
    def is_arm(self) -> bool:
        return self.machine.lower() in ("aarch64", "arm64")

    @property
    def has_vnni(self) -> bool:
        """VNNI (AVX-512 or AVX) or AMX: INT8 dot products in one instruction."""
        return bool(self.flags & {"avx512_vnni", "avx_vnni", "amx_int8"})

    @property
    def has_avx512(self) -> bool:
        return "avx512f" in self.flags

    @property
    def has_avx2(self) -> bool:
        return "avx2" in self.flags


def read_cpu_features(cpuinfo: str | None = None) -> CpuFeatures:
    """Features of this machine's CPU (from /proc/cpuinfo on Linux; ``cpuinfo`` text for tests)."""
    text = cpuinfo if cpuinfo is not None else (_CPUINFO.read_text() if _CPUINFO.exists() else "")
    model, flags = platform.processor() or "unknown", frozenset[str]()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "cpu model") and model in ("unknown", "", platform.processor()):
            model = value.strip()
        elif key in ("flags", "features") and not flags:
            flags = frozenset(value.split())
    return CpuFeatures(model or "unknown", platform.machine(), flags)


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
