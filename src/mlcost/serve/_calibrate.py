"""Choose the cascade's threshold on held-out rows, and say what each choice buys and risks.

Both tiers predict the calibration rows (the validation split) and, apart, the
test rows. Tier 1 answers a row when its confidence is at or above the
threshold; the rest go to tier 2. The loss that matters is a row tier 2 gets
right and tier 1 answers wrongly: its rate bounds the cascade's accuracy loss
against sending everything to tier 2 (rows only tier 1 gets right can only
help). The threshold is chosen by one of:

    escalation   tier 1's confidence quantile: about this share of rows goes to tier 2
    accuracy     the lowest threshold whose cascade accuracy on the rows reaches a target
                 (a point estimate: no promise for new rows)
    guarantee    Learn then Test (Angelopoulos et al. 2021): for thresholds from strict to
                 lenient, test H0 "loss rate > alpha" with the binomial tail (exact for a
                 0/1 loss) or Hoeffding-Bentkus, and stop at the first not rejected (fixed
                 sequence testing, no multiplicity correction needed): with probability at
                 least 1 - delta over the rows, the accuracy loss is at most alpha
    conformal    conformal risk control (Angelopoulos et al. 2022): the expected loss is at
                 most alpha (a promise on average, not with high probability)
    fixed        0.85, a common default, for comparison

Each is then scored on the test rows it never saw: accuracy with a Wilson 95 %
interval, the drop against tier 2 alone, the escalation rate, and the cost of
1,000 predictions from each tier's cost per prediction.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from mlcost.core import ServeError
from mlcost.serve._cascade import ConfidenceKind, Threshold, confidence
from mlcost.serve._tier import softmax

Method = Literal["escalation", "accuracy", "guarantee", "conformal", "fixed"]
PValue = Literal["binomial", "hoeffding_bentkus"]
FIXED_THRESHOLD = 0.85


@dataclass(frozen=True, slots=True)
class Predictions:
    """Both tiers' probabilities on the same rows, and the rows' labels."""

    tier1: np.ndarray
    tier2: np.ndarray
    labels: np.ndarray


@dataclass(frozen=True, slots=True)
class Targets:
    escalation_rate: float = 0.3
    accuracy: float | None = None  # default: tier 2's accuracy on the rows, less alpha
    alpha: float = 0.005  # accuracy loss, as a fraction (0.5 point)
    delta: float = 0.1
    p_value: PValue = "binomial"


@dataclass(frozen=True, slots=True)
class Choice:
    """One way to choose the threshold, and how it does on the test rows."""

    method: Method
    rule: str
    threshold: float
    accuracy: float
    accuracy_ci: tuple[float, float]
    drop_pt: float
    escalation_rate: float
    usd_per_1000: float | None
    promise: str


@dataclass(frozen=True, slots=True)
class Calibration:
    """Every choice, the temperature used, and what tier 2 alone gives on the test rows."""

    choices: tuple[Choice, ...]
    confidence: ConfidenceKind
    temperature: float
    calibration_rows: int
    test_rows: int
    tier2_accuracy: float
    tier2_usd_per_1000: float | None

    def choice(self, method: Method) -> Choice:
        return next(c for c in self.choices if c.method == method)


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood of ``labels`` (temperature
    scaling, Guo et al. 2017), searched on a log grid from 0.25 to 8."""
    log_p = np.log(np.clip(probabilities, 1e-12, 1.0))
    best, best_nll = 1.0, math.inf
    for t in np.exp(np.linspace(math.log(0.25), math.log(8.0), 97)):
        scaled = softmax(log_p / t)
        nll = -float(np.mean(np.log(np.clip(scaled[np.arange(labels.size), labels], 1e-12, 1))))
        if nll < best_nll:
            best, best_nll = float(t), nll
    return best


def calibrate(
    calibration: Predictions,
    test: Predictions,
    *,
    kind: ConfidenceKind = "max_probability",
    temperature: float = 1.0,
    targets: Targets = Targets(),
    usd_per_prediction: tuple[float, float] | None = None,
) -> Calibration:
    """Every method's threshold on ``calibration``, scored on ``test`` (module docstring).

    ``usd_per_prediction`` is (tier 1, tier 2): what one prediction costs on each.
    """
    conf = confidence(calibration.tier1, kind, temperature)
    wrong1 = calibration.tier1.argmax(axis=1) != calibration.labels
    right2 = calibration.tier2.argmax(axis=1) == calibration.labels
    costly = wrong1 & right2
    candidates = _candidates(conf)
    accuracy_target = targets.accuracy
    if accuracy_target is None:
        accuracy_target = float(np.mean(right2)) - targets.alpha
    thresholds: list[tuple[Method, str, float, str]] = [
        (
            "guarantee",
            f"LTT, {targets.p_value.replace('_', '-')} p-values, alpha {targets.alpha * 100:g} pt, "
            f"delta {targets.delta:g}",
            _learn_then_test(conf, costly, candidates, targets),
            f"loss <= {targets.alpha * 100:g} pt with prob. >= {1 - targets.delta:g}",
        ),
        (
            "conformal",
            f"conformal risk control, alpha {targets.alpha * 100:g} pt",
            _conformal(conf, costly, candidates, targets.alpha),
            f"expected loss <= {targets.alpha * 100:g} pt",
        ),
        (
            "accuracy",
            f"accuracy >= {accuracy_target * 100:.2f} % on the rows",
            _for_accuracy(conf, calibration, candidates, accuracy_target),
            "none (point estimate)",
        ),
        (
            "escalation",
            f"escalate {targets.escalation_rate * 100:g} % of rows",
            float(np.quantile(conf, targets.escalation_rate)),
            "none",
        ),
        ("fixed", "a common default", FIXED_THRESHOLD, "none"),
    ]
    test_conf = confidence(test.tier1, kind, temperature)
    tier2_right = test.tier2.argmax(axis=1) == test.labels
    choices = tuple(
        _score(method, rule, threshold, promise, test, test_conf, tier2_right, usd_per_prediction)
        for method, rule, threshold, promise in thresholds
    )
    return Calibration(
        choices=choices,
        confidence=kind,
        temperature=temperature,
        calibration_rows=int(calibration.labels.size),
        test_rows=int(test.labels.size),
        tier2_accuracy=float(np.mean(tier2_right)),
        tier2_usd_per_1000=None if usd_per_prediction is None else 1000 * usd_per_prediction[1],
    )


def _candidates(conf: np.ndarray) -> np.ndarray:
    """Thresholds worth testing, strict to lenient: 1 (escalate all but certain rows), then
    every distinct confidence (a threshold between two of them decides the same rows)."""
    return np.unique(np.concatenate([conf, [1.0]]))[::-1]


def _loss_rate(conf: np.ndarray, costly: np.ndarray, threshold: float) -> float:
    return float(np.mean(costly & (conf >= threshold)))


def _learn_then_test(
    conf: np.ndarray, costly: np.ndarray, candidates: np.ndarray, targets: Targets
) -> float:
    n = conf.size
    chosen = 1.0
    for threshold in candidates:
        p = _p_value(_loss_rate(conf, costly, threshold), n, targets.alpha, targets.p_value)
        if p > targets.delta:
            break
        chosen = float(threshold)
    return chosen


def _p_value(risk: float, n: int, alpha: float, kind: PValue) -> float:
    """A p-value for H0: the loss rate exceeds ``alpha``, from the rate ``risk`` on ``n`` rows."""
    binomial = _binomial_cdf(math.floor(risk * n + 1e-9), n, alpha)
    if kind == "binomial":
        return binomial
    hoeffding = math.exp(-n * _kl(min(risk, alpha), alpha))
    bentkus = math.e * _binomial_cdf(math.ceil(risk * n - 1e-9), n, alpha)
    return min(hoeffding, bentkus, 1.0)


def _kl(a: float, b: float) -> float:
    """Bernoulli KL divergence h(a, b) = a log(a/b) + (1-a) log((1-a)/(1-b))."""
    first = a * math.log(a / b) if a > 0 else 0.0
    second = (1 - a) * math.log((1 - a) / (1 - b)) if a < 1 else 0.0
    return first + second


def _binomial_cdf(k: int, n: int, p: float) -> float:
    """P(Binomial(n, p) <= k), summed in log space (n in the tens of thousands is fine)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    terms = [
        math.lgamma(n + 1)
        - math.lgamma(i + 1)
        - math.lgamma(n - i + 1)
        + i * log_p
        + (n - i) * log_q
        for i in range(k + 1)
    ]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def _conformal(conf: np.ndarray, costly: np.ndarray, candidates: np.ndarray, alpha: float) -> float:
    n = conf.size
    chosen = 1.0
    for threshold in candidates:  # the loss only grows as the threshold falls
        if n / (n + 1) * _loss_rate(conf, costly, threshold) + 1 / (n + 1) > alpha:
            break
        chosen = float(threshold)
    return chosen


def _for_accuracy(
    conf: np.ndarray, rows: Predictions, candidates: np.ndarray, target: float
) -> float:
    chosen = 1.0
    for threshold in candidates:
        if _cascade_accuracy(rows, conf, threshold) < target:
            break
        chosen = float(threshold)
    return chosen


def _cascade_accuracy(rows: Predictions, conf: np.ndarray, threshold: float) -> float:
    answered = conf >= threshold
    predicted = np.where(answered, rows.tier1.argmax(axis=1), rows.tier2.argmax(axis=1))
    return float(np.mean(predicted == rows.labels))


def _score(
    method: Method,
    rule: str,
    threshold: float,
    promise: str,
    test: Predictions,
    conf: np.ndarray,
    tier2_right: np.ndarray,
    usd_per_prediction: tuple[float, float] | None,
) -> Choice:
    accuracy = _cascade_accuracy(test, conf, threshold)
    escalated = float(np.mean(conf < threshold))
    usd = None
    if usd_per_prediction is not None:
        usd = 1000 * (usd_per_prediction[0] + escalated * usd_per_prediction[1])
    return Choice(
        method=method,
        rule=rule,
        threshold=round(threshold, 6),
        accuracy=accuracy,
        accuracy_ci=wilson(accuracy, int(test.labels.size)),
        drop_pt=(float(np.mean(tier2_right)) - accuracy) * 100,
        escalation_rate=escalated,
        usd_per_1000=usd,
        promise=promise,
    )


def wilson(rate: float, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson's 95 % score interval of a proportion."""
    if n == 0:
        return (0.0, 1.0)
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def usd_per_prediction(usd_per_hour: float, throughput_per_s: float) -> float:
    """What one prediction costs on a machine busy at its measured throughput."""
    return usd_per_hour / 3600.0 / throughput_per_s


def threshold_record(
    result: Calibration, method: Method, rows: dict[str, object], tiers: Sequence[str]
) -> dict[str, object]:
    """The calibration file serve.yaml's cascade.threshold_file reads."""
    chosen = result.choice(method)
    return {
        "chosen": {
            "method": chosen.method,
            "rule": chosen.rule,
            "threshold": chosen.threshold,
            "confidence": result.confidence,
            "temperature": result.temperature,
            "promise": chosen.promise,
        },
        "tiers": list(tiers),
        "rows": rows,
        "choices": [
            {
                "method": c.method,
                "rule": c.rule,
                "threshold": c.threshold,
                "test_accuracy": round(c.accuracy, 6),
                "test_accuracy_ci": [round(x, 6) for x in c.accuracy_ci],
                "drop_pt_vs_tier2": round(c.drop_pt, 4),
                "escalation_rate": round(c.escalation_rate, 6),
                "usd_per_1000": None if c.usd_per_1000 is None else round(c.usd_per_1000, 8),
                "promise": c.promise,
            }
            for c in result.choices
        ],
        "tier2_alone": {
            "test_accuracy": round(result.tier2_accuracy, 6),
            "usd_per_1000": result.tier2_usd_per_1000,
        },
        "test_rows": result.test_rows,
    }


def read_threshold(path: Path) -> Threshold:
    """The threshold a calibration file (``threshold_record``) chose; ServeError when the file
    is not one."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        chosen = record["chosen"]
        return Threshold(
            float(chosen["threshold"]),
            chosen["confidence"],
            float(chosen.get("temperature", 1.0)),
            f"{path.name}: {chosen['method']} on {record['rows']['count']} {record['rows']['split']} rows",
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ServeError(
            f"{path}: not a calibration file ({exc}); write it with mlcost cascade calibrate"
        ) from exc
