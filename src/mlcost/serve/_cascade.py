"""The cascade: tier 1 answers what it is sure of; tier 2 answers the rest.

Tier 1 runs every text of a request (in its batcher, with other requests'
texts). Its confidence in each, max probability or the margin between the two
most probable classes, computed on its probabilities as they are (``raw``) or
after the temperature calibration fitted (``calibrated``), decides: at or above
the threshold tier 1's answer stands, below it the text goes to tier 2 (only
those texts; a local tier 2 batches them with other requests' unsure texts).
When tier 2 is unavailable (a remote tier failing or its circuit open), tier
1's answer is returned and flagged ``degraded``: a worse answer beats none.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from mlcost.serve._batcher import Batcher
from mlcost.serve._metrics import Metrics
from mlcost.serve._tier import RemoteTier, TierUnavailable, softmax

ConfidenceKind = Literal["max_probability", "margin"]


def confidence(
    probabilities: np.ndarray, kind: ConfidenceKind, temperature: float = 1.0
) -> np.ndarray:
    """Each row's confidence; ``temperature`` rescales the probabilities first (1: raw)."""
    p = probabilities
    if temperature != 1.0:
        p = softmax(np.log(np.clip(p, 1e-12, 1.0)) / temperature)
    top = np.sort(p, axis=1)
    if kind == "margin":
        return top[:, -1] - (top[:, -2] if p.shape[1] > 1 else 0.0)
    result: np.ndarray = top[:, -1]
    return result


@dataclass(frozen=True, slots=True)
class Answer:
    label: str
    probabilities: dict[str, float]
    tier: str
    confidence: float
    is_escalated: bool
    is_degraded: bool


@dataclass
class Threshold:
    """The active threshold and where it came from (serve.yaml, a calibration file, admin)."""

    value: float
    kind: ConfidenceKind
    temperature: float
    source: str


@dataclass
class Cascade:
    """One or two tiers (module docstring). Tier 1 is local; tier 2 local or remote."""

    names: Sequence[str]
    labels: Sequence[Sequence[str]]
    batchers: dict[str, Batcher]
    remote: RemoteTier | None
    threshold: Threshold
    metrics: Metrics

    async def predict(self, texts: Sequence[str], deadline: float) -> list[Answer]:
        """Raises QueueFull, DeadlineExceeded or Stopped from a local tier's batcher."""
        first = self.names[0]
        p1 = await _gather(self.batchers[first].submit(texts, deadline))
        sure = confidence(p1, self.threshold.kind, self.threshold.temperature)
        for value in sure:
            self.metrics.confidence.observe(float(value))
        answers = [self._answer(0, p1[i], float(sure[i]), False, False) for i in range(len(texts))]
        if len(self.names) == 1:
            self.metrics.predictions.labels(first).inc(len(texts))
            return answers
        unsure = [i for i in range(len(texts)) if sure[i] < self.threshold.value]
        if not unsure:
            self.metrics.predictions.labels(first).inc(len(texts))
            return answers
        try:
            p2 = await self._second([texts[i] for i in unsure], deadline)
        except TierUnavailable:
            self.metrics.escalations.labels("degraded").inc(len(unsure))
            self.metrics.predictions.labels(first).inc(len(texts))
            for i in unsure:
                answers[i] = self._answer(0, p1[i], float(sure[i]), True, True)
            return answers
        self.metrics.escalations.labels("answered").inc(len(unsure))
        self.metrics.predictions.labels(first).inc(len(texts) - len(unsure))
        self.metrics.predictions.labels(self.names[1]).inc(len(unsure))
        for row, i in enumerate(unsure):
            answers[i] = self._answer(1, p2[row], float(sure[i]), True, False)
        return answers

    async def _second(self, texts: Sequence[str], deadline: float) -> np.ndarray:
        if self.remote is not None:
            try:
                return await self.remote.predict(texts)
            finally:
                is_open = self.remote.breaker.is_open
                self.metrics.circuit_open.labels(self.remote.name).set(int(is_open))
        return await _gather(self.batchers[self.names[1]].submit(texts, deadline))

    def _answer(
        self, tier: int, row: np.ndarray, sure: float, is_escalated: bool, is_degraded: bool
    ) -> Answer:
        labels = self.labels[tier] or tuple(str(i) for i in range(len(row)))
        return Answer(
            label=labels[int(np.argmax(row))],
            probabilities={label: round(float(p), 6) for label, p in zip(labels, row, strict=True)},
            tier=self.names[tier],
            confidence=round(sure, 6),
            is_escalated=is_escalated,
            is_degraded=is_degraded,
        )


async def _gather(futures: Sequence[asyncio.Future[np.ndarray]]) -> np.ndarray:
    """The rows of every future, in order; on the first failure the others are abandoned (the
    batcher skips texts whose future is done)."""
    try:
        rows = await asyncio.gather(*futures)
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    return np.stack(rows)
