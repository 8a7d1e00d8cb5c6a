"""The tiers a cascade answers from: a variant loaded here, or another ``mlcost serve``.

A ``LocalTier`` opens the variant once (ONNX Runtime or OpenVINO with the
session settings compress measured fastest, PyTorch eager otherwise) with the
threads the CPU quota allows, and runs each batch on its own inference
thread: tokenized in one call, cut into length buckets (a bucket's longest
text is at most twice its shortest, so short texts do not pay for a long
one's padding), softmaxed. A ``RemoteTier`` posts the texts to another
server's ``/v1/predict`` with a timeout, a bounded number of retries and a
circuit breaker, so a dead tier 2 costs one fast failure, not a timeout per
request.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlcost.core import Variant
from mlcost.runtime import (
    Session,
    bucketed_feeds,
    load_tokenizer,
    open_session,
    predict_logits,
    tokenize,
)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    result: np.ndarray = shifted / shifted.sum(axis=1, keepdims=True)
    return result


def label_names(variant: Variant, count: int) -> tuple[str, ...]:
    """The class names in the variant's config.json (``id2label``), else "0", "1", ..."""
    path = Path(variant.path)
    config = (path if path.is_dir() else path.parent) / "config.json"
    try:
        id2label = json.loads(config.read_text(encoding="utf-8")).get("id2label") or {}
    except (OSError, ValueError):
        id2label = {}
    return tuple(str(id2label.get(str(i), i)) for i in range(count))


def variant_probabilities(
    variant: Variant, texts: Sequence[str], *, threads: int, max_length: int = 512
) -> np.ndarray:
    """The variant's probabilities for every text, in order (for calibration, not serving)."""
    session = open_session(variant, threads=threads)
    tokenizer = load_tokenizer(variant)
    ids = tokenize(tokenizer, texts, max_length=max_length)
    return softmax(predict_logits(session, ids, int(tokenizer.pad_token_id or 0)))


def _block_signals() -> None:
    """Inference threads never take SIGTERM or SIGINT: the event loop's thread handles them
    (and a native runtime's thread may lack a usable signal stack)."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})


@dataclass
class LocalTier:
    """A variant loaded in this process (module docstring)."""

    name: str
    variant: Variant
    threads: int
    max_length: int = 512
    session: Session | None = None
    tokenizer: Any = None
    labels: tuple[str, ...] = ()
    executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, "mlcost-infer", _block_signals)
    )

    def load(self) -> None:
        """Open the session and tokenizer (on the calling thread: the main one, at start-up)
        and run one warm-up text so the first request does not pay for it."""
        self.session = open_session(self.variant, threads=self.threads)
        self.tokenizer = load_tokenizer(self.variant)
        warm = self.run(["warm up"])
        self.labels = label_names(self.variant, warm.shape[1])

    def run(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities for ``texts``, one row each, in order."""
        assert self.session is not None, "load() first"
        ids = tokenize(self.tokenizer, texts, max_length=self.max_length)
        pad_id = int(self.tokenizer.pad_token_id or 0)
        out: np.ndarray | None = None
        for rows, feeds in bucketed_feeds(ids, pad_id):
            logits = self.session.logits(*feeds)
            if out is None:
                out = np.zeros((len(ids), logits.shape[1]), dtype=np.float32)
            out[rows] = softmax(logits)
        return out if out is not None else np.zeros((0, 0), dtype=np.float32)

    def close(self) -> None:
        self.executor.shutdown(wait=True)


class TierUnavailable(Exception):
    """A remote tier failed (after its retries) or its circuit is open."""


@dataclass
class CircuitBreaker:
    """Opens after ``failures`` failures in a row; after ``reset_s`` lets one call try again
    (half-open): its success closes the circuit, its failure opens it for another ``reset_s``."""

    failures: int
    reset_s: float
    _failed: int = 0
    _opened_at: float | None = None
    _is_trying: bool = False

    @property
    def is_open(self) -> bool:
        return self._opened_at is not None

    def allow(self) -> bool:
        if self._opened_at is None:
            return True
        if self._is_trying or time.monotonic() - self._opened_at < self.reset_s:
            return False
        self._is_trying = True
        return True

    def succeeded(self) -> None:
        self._failed, self._opened_at, self._is_trying = 0, None, False

    def failed(self) -> None:
        self._failed += 1
        self._is_trying = False
        if self._failed >= self.failures or self._opened_at is not None:
            self._opened_at = time.monotonic()


@dataclass
class RemoteTier:
    """Another ``mlcost serve`` (module docstring); ``client`` is an ``httpx.AsyncClient``."""

    name: str
    url: str
    timeout_s: float
    retries: int
    breaker: CircuitBreaker
    client: Any = None
    labels: tuple[str, ...] = ()

    async def predict(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities from the remote server; raises TierUnavailable."""
        import httpx

        if not self.breaker.allow():
            raise TierUnavailable(f"tier {self.name}: circuit open")
        last = "no attempt"
        for attempt in range(self.retries + 1):
            try:
                response = await self.client.post(
                    f"{self.url.rstrip('/')}/v1/predict",
                    json={"texts": list(texts)},
                    timeout=self.timeout_s,
                )
                if response.status_code == 200:
                    answers = response.json()["predictions"]
                    self.breaker.succeeded()
                    return self._probabilities(answers)
                last = f"HTTP {response.status_code}"
                if response.status_code < 500 and response.status_code != 429:
                    break  # the request itself is wrong: retrying will not help
            except (httpx.HTTPError, KeyError, ValueError) as exc:
                last = f"{type(exc).__name__}: {exc}"
            if attempt < self.retries:
                await asyncio.sleep(0.05 * 2**attempt)
        self.breaker.failed()
        raise TierUnavailable(f"tier {self.name}: {last}")

    def _probabilities(self, answers: list[dict[str, Any]]) -> np.ndarray:
        if not self.labels:
            self.labels = tuple(answers[0]["probabilities"])
        return np.array(
            [[answer["probabilities"][label] for label in self.labels] for answer in answers],
            dtype=np.float32,
        )
