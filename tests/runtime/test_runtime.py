"""The machine's fingerprint, the cgroup's thread budget, and dynamic padding."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

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
