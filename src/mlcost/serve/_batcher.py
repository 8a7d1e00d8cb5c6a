"""Dynamic batching for one tier: requests' texts queue up, and run together.

A ``Batcher`` owns a bounded queue of texts and one worker task. The worker
waits for the first text, then gathers more until ``max_batch_size`` texts are
waiting or the first has waited ``max_queue_delay_s`` (no wait at all once the
server drains), and hands the batch to ``run`` on the tier's own inference
thread, off the event loop. While a batch runs the next one gathers, so the
batch size follows the load: 1 when traffic is light, the cap when it is not.

The queue is bounded in texts: ``submit`` raises ``QueueFull`` (the server
answers 429 with Retry-After) instead of letting a backlog grow that no
deadline could meet. A text whose deadline passed while it waited is failed
with ``DeadlineExceeded`` and never run.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

# What a tier's inference does with a batch of texts: one row of probabilities per text.
RunBatch = Callable[[Sequence[str]], np.ndarray]


class QueueFull(Exception):
    """The tier's queue holds as many texts as it may; ``retry_after_s`` says when to retry."""

    def __init__(self, tier: str, retry_after_s: int) -> None:
        super().__init__(f"tier {tier}: queue full; retry in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class DeadlineExceeded(Exception):
    """A text waited past its request's deadline and was not run."""


class Stopped(Exception):
    """The batcher has stopped and takes no more texts."""


@dataclass(slots=True)
class _Item:
    text: str
    deadline: float
    enqueued: float
    future: asyncio.Future[np.ndarray]


@dataclass(frozen=True, slots=True)
class BatchDone:
    """What one batch did, for the metrics: its size, the texts' queue waits, its run time."""

    tier: str
    size: int
    queue_waits_s: tuple[float, ...]
    run_s: float


@dataclass
class Batcher:
    """The queue and worker of one tier (module docstring). ``on_batch`` sees every batch."""

    tier: str
    run: RunBatch
    max_batch_size: int
    max_queue_delay_s: float
    capacity: int
    on_batch: Callable[[BatchDone], None] = lambda done: None
    _queue: deque[_Item] = field(default_factory=deque)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _executor: ThreadPoolExecutor | None = None
    _worker: asyncio.Task[None] | None = None
    _is_draining: bool = False
    _is_stopped: bool = False
    _running: int = 0
    _mean_batch_s: float = 0.01

    @property
    def depth(self) -> int:
        """Texts waiting, not counting the batch that runs."""
        return len(self._queue)

    def start(self, executor: ThreadPoolExecutor) -> None:
        self._executor = executor
        self._worker = asyncio.get_running_loop().create_task(self._work(), name=self.tier)

    def submit(self, texts: Sequence[str], deadline: float) -> list[asyncio.Future[np.ndarray]]:
        """Queue ``texts`` (all or none); each future resolves to that text's probabilities.

        Raises QueueFull when they do not fit, Stopped after ``stop``.
        """
        if self._is_stopped:
            raise Stopped(f"tier {self.tier} has stopped")
        if len(self._queue) + len(texts) > self.capacity:
            raise QueueFull(self.tier, self._retry_after_s())
        loop = asyncio.get_running_loop()
        now = time.monotonic()
        items = [_Item(text, deadline, now, loop.create_future()) for text in texts]
        self._queue.extend(items)
        self._arrived.set()
        return [item.future for item in items]

    def drain(self) -> None:
        """From now on, run what waits at once instead of waiting for a fuller batch."""
        self._is_draining = True
        self._arrived.set()

    async def stop(self) -> None:
        """Take no more texts, run every text already queued, then end the worker."""
        self._is_stopped = True
        self.drain()
        if self._worker is not None:
            await self._worker

    def _retry_after_s(self) -> int:
        batches_ahead = math.ceil(len(self._queue) / self.max_batch_size) + self._running
        return max(1, math.ceil(batches_ahead * self._mean_batch_s))

    async def _work(self) -> None:
        while True:
            if not self._queue:
                if self._is_stopped:
                    return
                self._arrived.clear()
                await self._arrived.wait()
                continue
            await self._gather()
            batch = self._take()
            if batch:
                await self._run(batch)

    async def _gather(self) -> None:
        """Wait until the batch is full, the oldest text has waited long enough, or draining."""
        oldest = self._queue[0].enqueued
        while len(self._queue) < self.max_batch_size and not self._is_draining:
            left = oldest + self.max_queue_delay_s - time.monotonic()
            if left <= 0:
                return
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), left)
            except TimeoutError:
                return

    def _take(self) -> list[_Item]:
        """Up to ``max_batch_size`` live texts; late or abandoned ones are failed, not run."""
        now = time.monotonic()
        batch: list[_Item] = []
        while self._queue and len(batch) < self.max_batch_size:
            item = self._queue.popleft()
            if item.future.done():  # the request gave up (client gone, or a sibling failed)
                continue
            if item.deadline <= now:
                item.future.set_exception(DeadlineExceeded(f"tier {self.tier}: deadline passed"))
                continue
            batch.append(item)
        return batch

    async def _run(self, batch: list[_Item]) -> None:
        loop = asyncio.get_running_loop()
        began = time.monotonic()
        self._running = 1
        try:
            probabilities = await loop.run_in_executor(
                self._executor, self.run, [item.text for item in batch]
            )
        except Exception as exc:  # noqa: BLE001 (a model failure fails this batch's requests, not the server)
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(exc)
            return
        finally:
            self._running = 0
        spent = time.monotonic() - began
        self._mean_batch_s = 0.8 * self._mean_batch_s + 0.2 * spent
        for item, row in zip(batch, probabilities, strict=True):
            if not item.future.done():
                item.future.set_result(row)
        self.on_batch(
            BatchDone(self.tier, len(batch), tuple(began - item.enqueued for item in batch), spent)
        )
