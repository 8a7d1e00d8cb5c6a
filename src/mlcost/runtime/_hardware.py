"""What this machine has: CPU model, family and INT8-relevant features, threads its cgroup allows."""

from __future__ import annotations

import math
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

from mlcost.core import CpuId, Hardware

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


# /proc/cpuinfo keys of the CPU id: x86 CPUID, then the Arm MIDR fields.
_CPU_ID_KEYS = ("vendor_id", "cpu family", "model", "stepping", "cpu implementer", "cpu part")


def _read_cpu_id(cpuinfo: str) -> CpuId | None:
    """The first CPU's vendor, family, model and stepping (x86) or implementer and part (Arm).

    Returns None when ``cpuinfo`` (/proc/cpuinfo text) has none of them.
    """
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key == "processor" and fields:
            break  # the first CPU's block is enough: a VM's vCPUs are all one model
        if key in _CPU_ID_KEYS:
            fields.setdefault(key, value.strip())
    if not fields:
        return None
    return CpuId(
        vendor=fields.get("vendor_id", ""),
        family=_number(fields.get("cpu family")),
        model=_number(fields.get("model")),
        stepping=_number(fields.get("stepping")),
        implementer=_number(fields.get("cpu implementer")),
        part=_number(fields.get("cpu part")),
    )


def _number(text: str | None) -> int | None:
    """A decimal (x86) or 0x-prefixed (Arm) number; None when absent or not a number."""
    if text is None:
        return None
    try:
        return int(text, 16) if text.lower().startswith("0x") else int(text)
    except ValueError:
        return None


# Flags that decide which inference kernels run; the rest of /proc/cpuinfo's list is noise here.
_KERNEL_FLAGS = (
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512bw",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "avx_vnni",
    "amx_tile",
    "amx_int8",
    "amx_bf16",
    "asimd",
    "asimddp",
    "sve",
    "i8mm",
    "bf16",
)


def threads_allowed(cgroup_root: Path = Path("/sys/fs/cgroup")) -> int:
    """CPUs this process may use: its affinity, capped by the cgroup CPU quota (v2 or v1), >= 1."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    quota = _cgroup_quota(cgroup_root)
    if quota is not None:
        cpus = min(cpus, max(1, math.floor(quota)))
    return max(1, cpus)


def _cgroup_quota(root: Path) -> float | None:
    """The CPU quota in CPUs (cpu.max, or cfs_quota_us / cfs_period_us); None when unlimited."""
    try:
        v2 = root / "cpu.max"
        if v2.is_file():
            quota, _, period = v2.read_text().strip().partition(" ")
            return None if quota == "max" else int(quota) / int(period or 100_000)
        v1 = root / "cpu" / "cpu.cfs_quota_us"
        if v1.is_file():
            quota_us = int(v1.read_text())
            period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text())
            return None if quota_us <= 0 else quota_us / period_us
    except (OSError, ValueError):
        return None
    return None


def _physical_cores(cpuinfo: str, logical: int) -> int:
    """Distinct (physical id, core id) pairs; the logical count where /proc/cpuinfo lacks them."""
    cores, physical = set(), "0"
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "physical id":
            physical = value.strip()
        elif key == "core id":
            cores.add((physical, value.strip()))
    return len(cores) or logical


def _memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


def read_hardware(cpuinfo: str | None = None) -> Hardware:
    """This machine's fingerprint: CPU model and id, kernel-relevant flags, cores, threads, memory, GPU."""
    text = cpuinfo if cpuinfo is not None else (_CPUINFO.read_text() if _CPUINFO.exists() else "")
    cpu = read_cpu_features(text)
    logical = os.cpu_count() or 1
    gpu, gpu_memory = _cuda_gpu()
    return Hardware(
        cpu_model=cpu.model,
        machine=cpu.machine,
        cpu_flags=tuple(flag for flag in _KERNEL_FLAGS if flag in cpu.flags),
        logical_cpus=logical,
        physical_cores=_physical_cores(text, logical),
        threads_allowed=threads_allowed(),
        memory_gib=_memory_gib(),
        gpu=gpu,
        gpu_memory_gib=gpu_memory,
        cpu_id=_read_cpu_id(text),
    )


def _cuda_gpu() -> tuple[str | None, float | None]:
    """The first CUDA GPU's name and memory, through torch when it is already imported."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return None, None
    props = torch.cuda.get_device_properties(0)
    return str(props.name), round(props.total_memory / 1024**3, 1)
