"""Variant + test rows -> Profile: measured here, with accuracy as a paired statistical statement."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from mlcost.core import Hardware, Profile, ProfileError, Variant
from mlcost.profile._measure import Measurement, MeasureSettings, measure
from mlcost.profile._stats import PairedComparison, accuracy_with_ci, compare_with_baseline
from mlcost.runtime import artifact_bytes, load_tokenizer, tokenize


@dataclass(frozen=True, slots=True)
class HeldOutRows:
    """The held-out rows every variant is measured on; labels are the model's class ids."""

    texts: tuple[str, ...]
    labels: tuple[int, ...]
    source: str

    @property
    def key(self) -> str:
        """The source and a digest of the rows: profiles on other rows are not comparable."""
        digest = hashlib.sha256()
        for text, label in zip(self.texts, self.labels, strict=True):
            digest.update(f"{label}\t{text}\n".encode())
        return f"{self.source} test rows #{digest.hexdigest()[:12]}"


@dataclass(frozen=True, slots=True)
class Measured:
    """A profile and what backs it: the predictions and the comparison with the baseline."""

    profile: Profile
    predictions: tuple[int, ...]
    comparison: PairedComparison | None


def profile_variant(
    variant: Variant,
    rows: HeldOutRows,
    *,
    hardware: Hardware,
    settings: MeasureSettings,
    baseline_predictions: Sequence[int] | None = None,
    max_length: int = 512,
) -> Measured:
    """Measure ``variant`` on ``rows`` in a fresh process and describe it as a Profile.

    ``baseline_predictions`` (row by row) give agreement and the McNemar test;
    without them the variant is the baseline. Raises ProfileError when the
    artifact cannot be loaded or run.
    """
    if not rows.texts:
        raise ProfileError("there are no test rows to measure on; pass data with more rows")
    try:
        tokenizer = load_tokenizer(variant)
        token_ids = tokenize(tokenizer, rows.texts, max_length=max_length)
        result = measure(variant, token_ids, int(tokenizer.pad_token_id or 0), settings)
    except (OSError, ValueError, RuntimeError) as exc:
        raise ProfileError(
            f"cannot measure variant {variant.name} at {variant.path}: {exc}"
        ) from exc
    correct = [p == y for p, y in zip(result.predictions, rows.labels, strict=True)]
    accuracy = accuracy_with_ci(correct, seed=settings.seed)
    comparison = None
    if baseline_predictions is not None:
        base_correct = [p == y for p, y in zip(baseline_predictions, rows.labels, strict=True)]
        agreement = float(np.mean(np.equal(result.predictions, baseline_predictions)))
        comparison = compare_with_baseline(base_correct, correct, agreement, seed=settings.seed)
    return Measured(
        _to_profile(
            variant,
            result,
            accuracy.value,
            accuracy.ci_low,
            accuracy.ci_high,
            comparison,
            hardware,
            settings,
            token_ids,
            rows.key,
        ),
        result.predictions,
        comparison,
    )


def _to_profile(
    variant: Variant,
    result: Measurement,
    accuracy: float,
    ci_low: float,
    ci_high: float,
    comparison: PairedComparison | None,
    hardware: Hardware,
    settings: MeasureSettings,
    token_ids: Sequence[Sequence[int]],
    data_key: str,
) -> Profile:
    latencies = np.asarray(result.latencies_ms)
    p50, p95, p99 = (float(v) for v in np.percentile(latencies, [50, 95, 99]))
    rounds = np.asarray(result.round_p50_ms)
    best_batch = max(result.throughput_by_batch, key=lambda b: result.throughput_by_batch[b])
    return Profile(
        variant=variant.name,
        hardware=hardware,
        basis="measured",
        provider=result.provider,
        threads=settings.threads,
        latency_ms_p50=p50,
        latency_ms_p95=p95,
        latency_ms_p99=p99,
        latency_spread=float((rounds.max() - rounds.min()) / np.median(rounds)),
        latency_samples=len(latencies),
        tokens_mean=float(np.mean([len(ids) for ids in token_ids])),
        batch_size=best_batch,
        throughput_per_s=result.throughput_by_batch[best_batch],
        throughput_by_batch=dict(result.throughput_by_batch),
        accuracy=accuracy,
        accuracy_ci_low=ci_low,
        accuracy_ci_high=ci_high,
        agreement=comparison.agreement if comparison else 1.0,
        mcnemar_p=comparison.mcnemar_p if comparison else 1.0,
        test_samples=len(token_ids),
        peak_memory_mib=result.peak_memory_mib,
        model_memory_mib=result.model_memory_mib,
        load_s=result.load_s,
        size_bytes=variant.size_bytes or artifact_bytes(Path(variant.path)),
        versions=result.versions,
        measured_at=datetime.now(UTC),
        variant_key=str(variant.recipe.get("key", "")),
        data=data_key,
        discordant=(
            (comparison.only_baseline_right, comparison.only_variant_right) if comparison else None
        ),
    )
