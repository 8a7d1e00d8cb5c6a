"""The machine's fingerprint (CPU model, id and flags), the cgroup's thread budget, and dynamic padding."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from mlcost.core import CpuId
from mlcost.runtime import length_batches, pad, read_hardware, threads_allowed

CPUINFO = """processor\t: 0
model name\t: Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz
flags\t\t: fpu sse avx avx2 fma avx512f avx512bw avx512_vnni amx_tile ht
physical id\t: 0
core id\t\t: 0

processor\t: 1
model name\t: Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz
flags\t\t: fpu sse avx avx2 fma avx512f avx512bw avx512_vnni amx_tile ht
physical id\t: 0
core id\t\t: 0
"""


def test_fingerprint_keeps_kernel_flags_and_counts_smt_siblings_once() -> None:
    hardware = read_hardware(CPUINFO)
    assert hardware.cpu_model.startswith("Intel(R) Xeon(R) Platinum 8375C")
    assert hardware.cpu_flags == (
        "avx",
        "avx2",
        "fma",
        "avx512f",
        "avx512bw",
        "avx512_vnni",
        "amx_tile",
    )
    assert hardware.physical_cores == 1  # two hyper-threads of one core


# Cloud VMs that hide the model name, as their /proc/cpuinfo reads (first CPU block, trimmed).
SAPPHIRE_RAPIDS_VM = """processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 143
model name\t: Intel(R) Xeon(R) Processor
stepping\t: 8
flags\t\t: fpu avx avx2 fma avx512f avx512_vnni amx_tile amx_int8

processor\t: 1
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 143
"""
MILAN_VM = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 1
model name\t: AMD EPYC Processor
stepping\t: 1
flags\t\t: fpu avx avx2 fma
"""
NEOVERSE_N1 = """processor\t: 0
BogoMIPS\t: 50.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimddp
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x3
CPU part\t: 0xd0c
CPU revision\t: 1

processor\t: 1
CPU implementer\t: 0x41
CPU part\t: 0xd0c
"""
# A client part behind a server's flags, as this project's own CI VM reports it.
UNKNOWN_MODEL = """processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 167
model name\t: Intel(R) Xeon(R) Processor
stepping\t: 1
flags\t\t: fpu avx avx2 avx512f avx512_vnni amx_int8
"""


@pytest.mark.parametrize(
    ("cpuinfo", "cpu_id"),
    [
        (SAPPHIRE_RAPIDS_VM, CpuId("GenuineIntel", 6, 143, 8)),
        (MILAN_VM, CpuId("AuthenticAMD", 25, 1, 1)),
        (NEOVERSE_N1, CpuId(implementer=0x41, part=0xD0C)),
        (UNKNOWN_MODEL, CpuId("GenuineIntel", 6, 167, 1)),
    ],
)
def test_fingerprint_reads_the_cpu_id_beneath_a_generic_model_name(
    cpuinfo: str, cpu_id: CpuId
) -> None:
    assert read_hardware(cpuinfo).cpu_id == cpu_id


def test_a_cpuinfo_without_ids_leaves_the_cpu_id_unset() -> None:
    assert read_hardware("model name\t: Some CPU\nflags\t\t: avx2\n").cpu_id is None
    assert read_hardware("").cpu_id is None


def test_threads_follow_the_cgroup_v2_quota(tmp_path: Path) -> None:
    affinity = len(os.sched_getaffinity(0))
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert threads_allowed(tmp_path) == affinity
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert threads_allowed(tmp_path) == min(affinity, 1)  # 1.5 CPUs: one full thread
    (tmp_path / "cpu.max").write_text("50000 100000\n")
    assert threads_allowed(tmp_path) == 1


def test_threads_follow_the_cgroup_v1_quota(tmp_path: Path) -> None:
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert threads_allowed(tmp_path) == len(os.sched_getaffinity(0))
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("100000\n")
    assert threads_allowed(tmp_path) == 1


def test_padding_is_to_the_longest_row_of_the_batch_only() -> None:
    ids, mask = pad([[5, 6], [7, 8, 9, 10]], pad_id=0)
    assert ids.tolist() == [[5, 6, 0, 0], [7, 8, 9, 10]]
    assert mask.tolist() == [[1, 1, 0, 0], [1, 1, 1, 1]]
    assert ids.dtype == np.int64


def test_length_batches_group_similar_lengths() -> None:
    rows = [[1] * n for n in (9, 2, 5, 3, 8, 1)]
    batches = length_batches(rows, 2)
    assert [sorted(len(rows[i]) for i in b) for b in batches] == [[1, 2], [3, 5], [8, 9]]
