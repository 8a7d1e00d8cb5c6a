"""The batcher, the cascade's confidence and the circuit breaker, without HTTP."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from mlcost.runtime import length_buckets
from mlcost.serve import (
    BatchDone,
    Batcher,
    CircuitBreaker,
    DeadlineExceeded,
    QueueFull,
    confidence,
)


class _Model:
    """Probabilities from the text's length; records each batch's texts; may be slow."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.batches: list[list[str]] = []
        self.delay_s = delay_s
        self.threads: set[str] = set()

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        self.threads.add(threading.current_thread().name)
        self.batches.append(list(texts))
        time.sleep(self.delay_s)
        p = np.array([min(0.99, len(t) / 10) for t in texts], dtype=np.float32)
        return np.stack([1 - p, p], axis=1)


def _batcher(model: _Model, done: list[BatchDone], **settings: float) -> Batcher:
    defaults: dict[str, float] = {"max_batch_size": 8, "max_queue_delay_s": 0.05, "capacity": 64}
    defaults |= settings
    return Batcher(
        tier="t1",
        run=model,
        max_batch_size=int(defaults["max_batch_size"]),
        max_queue_delay_s=defaults["max_queue_delay_s"],
        capacity=int(defaults["capacity"]),
        on_batch=done.append,
    )


def test_concurrent_requests_share_batches_and_keep_their_order() -> None:
    model, done = _Model(delay_s=0.02), []

    async def main() -> list[np.ndarray]:
        batcher = _batcher(model, done)
        batcher.start(ThreadPoolExecutor(1, "infer"))
        far = time.monotonic() + 10
        rows = await asyncio.gather(
            *(asyncio.gather(*batcher.submit([f"x{'y' * i}"], far)) for i in range(20))
        )
        await batcher.stop()
        return [row[0] for row in rows]

    rows = asyncio.run(main())
    assert [round(float(r[1]), 2) for r in rows] == [min(0.99, (i + 1) / 10) for i in range(20)]
    assert max(len(b) for b in model.batches) == 8  # the cap
    assert len(model.batches) < 20  # requests shared batches
    assert model.threads == {"infer_0"}  # inference ran off the event loop
    assert sum(d.size for d in done) == 20


def test_a_lone_text_waits_at_most_the_queue_delay() -> None:
    model, done = _Model(), []

    async def main() -> float:
        batcher = _batcher(model, done, max_queue_delay_s=0.03)
        batcher.start(ThreadPoolExecutor(1))
        began = time.monotonic()
        await asyncio.gather(*batcher.submit(["one"], began + 10))
        took = time.monotonic() - began
        await batcher.stop()
        return took

    took = asyncio.run(main())
    assert 0.025 <= took < 0.5
    assert done[0].queue_waits_s[0] >= 0.025


def test_a_full_queue_refuses_with_a_retry_time_and_a_late_text_is_not_run() -> None:
    model, done = _Model(delay_s=0.2), []

    async def main() -> None:
        batcher = _batcher(model, done, max_batch_size=2, capacity=4, max_queue_delay_s=0)
        batcher.start(ThreadPoolExecutor(1))
        now = time.monotonic()
        first = batcher.submit(["a", "b"], now + 10)  # taken at once, runs 0.2 s
        await asyncio.sleep(0.05)
        late = batcher.submit(["late"], now + 0.1)  # its deadline passes while it waits
        batcher.submit(["c", "d", "e"], now + 10)
        with pytest.raises(QueueFull) as refused:
            batcher.submit(["f"], now + 10)
        assert refused.value.retry_after_s >= 1
        await asyncio.gather(*first)
        with pytest.raises(DeadlineExceeded):
            await late[0]
        await batcher.stop()

    asyncio.run(main())
    assert ["late"] not in model.batches and all("late" not in b for b in model.batches)


def test_draining_runs_queued_texts_without_the_batch_delay() -> None:
    model, done = _Model(), []

    async def main() -> float:
        batcher = _batcher(model, done, max_queue_delay_s=5.0)
        batcher.start(ThreadPoolExecutor(1))
        futures = batcher.submit(["a"], time.monotonic() + 60)
        await asyncio.sleep(0.05)
        began = time.monotonic()
        await batcher.stop()  # would otherwise wait 5 s for a fuller batch
        await asyncio.gather(*futures)
        return time.monotonic() - began

    assert asyncio.run(main()) < 1.0


def test_a_model_failure_fails_that_batch_only() -> None:
    calls = {"n": 0}

    def flaky(texts: Sequence[str]) -> np.ndarray:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("boom")
        return np.full((len(texts), 2), 0.5, dtype=np.float32)

    async def main() -> None:
        batcher = Batcher("t", flaky, 4, 0.0, 16)
        batcher.start(ThreadPoolExecutor(1))
        with pytest.raises(RuntimeError, match="boom"):
            await asyncio.gather(*batcher.submit(["a"], time.monotonic() + 5))
        rows = await asyncio.gather(*batcher.submit(["b"], time.monotonic() + 5))
        assert rows[0].tolist() == [0.5, 0.5]
        await batcher.stop()

    asyncio.run(main())


def test_length_buckets_keep_each_bucket_within_twice_its_shortest() -> None:
    lengths = [5, 100, 9, 40, 60, 12, 200, 30]
    buckets = length_buckets(lengths)
    assert sorted(i for b in buckets for i in b) == list(range(len(lengths)))
    for bucket in buckets:
        shortest = min(lengths[i] for i in bucket)
        assert max(lengths[i] for i in bucket) <= max(2 * shortest, 16)
    assert length_buckets([7] * 5) == [[0, 1, 2, 3, 4]]


def test_confidence_max_probability_margin_and_temperature() -> None:
    p = np.array([[0.9, 0.1], [0.55, 0.45]], dtype=np.float32)
    assert np.allclose(confidence(p, "max_probability"), [0.9, 0.55])
    assert np.allclose(confidence(p, "margin"), [0.8, 0.1])
    softer = confidence(p, "max_probability", temperature=2.0)
    assert softer[0] < 0.9 and softer[0] > 0.5  # a temperature above 1 softens


def test_circuit_breaker_opens_after_failures_and_half_opens_after_reset() -> None:
    breaker = CircuitBreaker(failures=2, reset_s=0.05)
    assert breaker.allow()
    breaker.failed()
    assert breaker.allow() and not breaker.is_open
    breaker.failed()
    assert breaker.is_open and not breaker.allow()
    time.sleep(0.06)
    assert breaker.allow()  # one trial
    assert not breaker.allow()  # only one at a time
    breaker.failed()
    assert breaker.is_open and not breaker.allow()
    time.sleep(0.06)
    assert breaker.allow()
    breaker.succeeded()
    assert not breaker.is_open and breaker.allow()
