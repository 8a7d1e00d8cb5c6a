"""Measure one Variant on this machine, in a fresh process so memory and load time are its own.

Latency: single requests (batch 1) drawn from the user's test split, so the
real length distribution is timed, not a padded maximum; a warm-up first,
then several rounds in shuffled order. Throughput: the same kind of rows in
batches as traffic brings them (random order) and as ``mlcost serve`` runs
them (cut into length buckets, each padded to its longest), for each batch
size tried (1, 4, 16: up to the server's default cap); the planner's
batching model reads its batch times from them. Then every test row is
predicted for accuracy.
"""

from __future__ import annotations

import multiprocessing
import random
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from mlcost.core import Variant
from mlcost.runtime import bucketed_feeds, open_session, pad, predict_logits

_VERSIONED = (
    "mlcost",
    "onnxruntime",
    "onnxruntime-gpu",
    "openvino",
    "torch",
    "transformers",
    "numpy",
)


@dataclass(frozen=True, slots=True)
class MeasureSettings:
    """How hard to measure: more requests and rounds give steadier percentiles, slower."""

    threads: int
    latency_requests: int = 200
    rounds: int = 3
    warmup_requests: int = 10
    throughput_rows: int = 256
    batch_sizes: tuple[int, ...] = (1, 4, 16)
    device: str = "cpu"
    seed: int = 0


@dataclass(frozen=True, slots=True)
class Measurement:
    """What one measuring process saw; ``predictions`` are in the order of the rows given."""

    provider: str
    predictions: tuple[int, ...]
    latencies_ms: tuple[float, ...]
    round_p50_ms: tuple[float, ...]
    throughput_by_batch: dict[int, float]
    load_s: float
    peak_memory_mib: float
    model_memory_mib: float
    versions: dict[str, str]


def measure(
    variant: Variant, token_ids: Sequence[Sequence[int]], pad_id: int, settings: MeasureSettings
) -> Measurement:
    """Measure ``variant`` on ``token_ids`` in a fresh spawned process (see the module doc).

    Raises OSError/ValueError (from loading) and RuntimeError (from running)
    as the child raised them.
    """
    context = multiprocessing.get_context("spawn")
    rows = [list(ids) for ids in token_ids]
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(measure_here, variant, rows, pad_id, settings).result()


def _status_mib(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process from /proc/self/status, in MiB.

    Not getrusage's ru_maxrss: Linux carries that across fork and exec, so a
    spawned child would report its parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _versions() -> dict[str, str]:
    found = {}
    for name in _VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def measure_here(
    variant: Variant, token_ids: Sequence[Sequence[int]], pad_id: int, settings: MeasureSettings
) -> Measurement:
    """``measure`` in this process (peak memory then includes whatever this process holds)."""
    rng = random.Random(settings.seed)
    before_mib = _status_mib("VmRSS")
    started = time.perf_counter()
    session = open_session(variant, threads=settings.threads, device=settings.device)
    session.logits(*pad([token_ids[0]], pad_id))  # first run allocates; part of being ready
    load_s = time.perf_counter() - started
    sample = rng.sample(range(len(token_ids)), min(settings.latency_requests, len(token_ids)))
    for index in sample[: settings.warmup_requests]:
        session.logits(*pad([token_ids[index]], pad_id))
    latencies: list[float] = []
    round_p50: list[float] = []
    for _ in range(settings.rounds):
        rng.shuffle(sample)
        this_round = []
        for index in sample:
            feeds = pad([token_ids[index]], pad_id)
            start = time.perf_counter()
            session.logits(*feeds)
            this_round.append((time.perf_counter() - start) * 1000)
        latencies += this_round
        round_p50.append(float(np.percentile(this_round, 50)))
    rows = rng.sample(range(len(token_ids)), min(settings.throughput_rows, len(token_ids)))
    subset = [token_ids[i] for i in rows]
    # Batch 1 is one request at a time: its throughput is 1 / mean latency over every timed
    # request, steadier than a separate, shorter pass would be.
    throughput = {1: 1000 / float(np.mean(latencies))}
    for batch_size in (b for b in settings.batch_sizes if b != 1):
        # Batches as requests arrive (rows in random order), each run as mlcost serve runs
        # one: cut into length buckets, a session call per bucket.
        batches = [
            [feeds for _, feeds in bucketed_feeds(subset[k : k + batch_size], pad_id)]
            for k in range(0, len(subset), batch_size)
        ]
        session.logits(*batches[len(batches) // 2][0])
        start = time.perf_counter()
        for buckets in batches:
            for feeds in buckets:
                session.logits(*feeds)
        throughput[batch_size] = len(subset) / (time.perf_counter() - start)
    predictions = predict_logits(session, token_ids, pad_id).argmax(axis=1)
    peak_mib = _status_mib("VmHWM")
    return Measurement(
        provider=session.provider,
        predictions=tuple(int(p) for p in predictions),
        latencies_ms=tuple(latencies),
        round_p50_ms=tuple(round_p50),
        throughput_by_batch=throughput,
        load_s=load_s,
        peak_memory_mib=peak_mib,
        model_memory_mib=max(0.0, peak_mib - before_mib),
        versions=_versions(),
    )
