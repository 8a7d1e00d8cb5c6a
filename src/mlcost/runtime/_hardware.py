"""What this machine has: CPU model and INT8-relevant features, threads its cgroup allows."""

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
