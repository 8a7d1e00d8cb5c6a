"""Threshold calibration: each method does what it says, and the guarantee holds when tried."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlcost.serve._calibrate import (
    FIXED_THRESHOLD,
    Predictions,
    Targets,
    _binomial_cdf,
    _p_value,
    calibrate,
    fit_temperature,
    wilson,
)


def _rows(n: int, seed: int) -> Predictions:
    """A world where tier 2 is right 92 % of the time and tier 1 (confidence informative) 85 %."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    sure = rng.uniform(0.5, 1.0, n)
    right1 = rng.uniform(size=n) < 0.55 + 0.6 * (sure - 0.5) * 1.3
    right2 = rng.uniform(size=n) < 0.92
    pred1 = np.where(right1, labels, 1 - labels)
    pred2 = np.where(right2, labels, 1 - labels)
    p1 = np.where(pred1 == 1, sure, 1 - sure)
    p2 = np.where(pred2 == 1, 0.9, 0.1)
    return Predictions(np.stack([1 - p1, p1], 1), np.stack([1 - p2, p2], 1), labels)


def test_every_method_gives_a_threshold_scored_on_the_test_rows() -> None:
    result = calibrate(_rows(4000, 0), _rows(4000, 1), usd_per_prediction=(1e-6, 1e-5))
    assert [c.method for c in result.choices] == [
        "guarantee",
        "conformal",
        "accuracy",
        "escalation",
        "fixed",
    ]
    fixed = result.choice("fixed")
    assert fixed.threshold == FIXED_THRESHOLD
    escalation = result.choice("escalation")
    assert abs(escalation.escalation_rate - 0.3) < 0.03  # on new rows, about the target
    for choice in result.choices:
        low, high = choice.accuracy_ci
        assert low < choice.accuracy < high
        assert choice.usd_per_1000 == pytest.approx(1000 * (1e-6 + choice.escalation_rate * 1e-5))
    assert result.tier2_usd_per_1000 == pytest.approx(1e-2)
    # Stricter promises escalate more: the guarantee is at least as strict as the expectation.
    assert result.choice("guarantee").threshold >= result.choice("conformal").threshold


def test_the_guarantee_holds_on_new_rows_at_least_1_minus_delta_of_the_time() -> None:
    alpha, delta = 0.02, 0.1
    targets = Targets(alpha=alpha, delta=delta)
    truth = _rows(200_000, 99)  # the loss a threshold really has, from a huge sample
    wrong1 = truth.tier1.argmax(1) != truth.labels
    right2 = truth.tier2.argmax(1) == truth.labels
    conf = truth.tier1.max(1)
    breaks = 0
    trials = 60
    for seed in range(trials):
        chosen = calibrate(_rows(1000, seed), _rows(10, 10_000 + seed), targets=targets)
        threshold = chosen.choice("guarantee").threshold
        true_loss = float(np.mean(wrong1 & right2 & (conf >= threshold)))
        breaks += true_loss > alpha
    assert breaks / trials <= delta + 0.05
    # ... and it is not vacuous: it does let tier 1 answer some rows.
    assert threshold < 0.99


def test_a_guarantee_no_threshold_can_keep_escalates_everything() -> None:
    result = calibrate(_rows(50, 0), _rows(500, 1), targets=Targets(alpha=0.001, delta=0.05))
    guarantee = result.choice("guarantee")
    assert guarantee.threshold == 1.0 and guarantee.escalation_rate == 1.0
    assert guarantee.drop_pt == pytest.approx(0.0)


def test_p_values_match_the_binomial_tail_and_bentkus_is_no_smaller_than_needed() -> None:
    assert _binomial_cdf(0, 10, 0.5) == pytest.approx(1 / 1024)
    assert _binomial_cdf(5, 10, 0.5) == pytest.approx(638 / 1024)
    assert _binomial_cdf(10, 10, 0.3) == 1.0
    # Far below alpha: tiny p-values; at alpha: no evidence.
    assert _p_value(0.0, 1000, 0.01, "binomial") == pytest.approx(0.99**1000)
    assert _p_value(0.01, 1000, 0.01, "binomial") > 0.5
    assert 0 < _p_value(0.002, 1000, 0.01, "hoeffding_bentkus") < 0.05
    bentkus = _p_value(0.0, 1000, 0.01, "hoeffding_bentkus")
    assert bentkus >= _p_value(0.0, 1000, 0.01, "binomial") * (1 - 1e-9)


def test_temperature_scaling_recovers_an_overconfident_models_temperature() -> None:
    rng = np.random.default_rng(3)
    n = 20_000
    logits = rng.normal(0, 2, (n, 2))
    true_p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = (rng.uniform(size=n) < true_p[:, 1]).astype(int)
    overconfident = np.exp(3 * logits) / np.exp(3 * logits).sum(1, keepdims=True)
    assert fit_temperature(overconfident, labels) == pytest.approx(3.0, rel=0.1)


def test_wilson_interval() -> None:
    low, high = wilson(0.9, 100)
    assert low == pytest.approx(0.8256, abs=1e-3) and high == pytest.approx(0.9448, abs=1e-3)
    assert wilson(0.5, 0) == (0.0, 1.0)
    assert math.isclose(sum(wilson(0.5, 50)), 1.0)
