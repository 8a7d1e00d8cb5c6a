"""Spot arithmetic: interruption buckets -> rates, and the checkpoint interval they call for.

AWS Spot Instance Advisor gives, per instance type and region, a bucket for
the share of instances interrupted over the trailing month. Read as a Poisson
process over AWS's 730-hour month, a share p is a rate of -ln(1 - p) / 730
interruptions per instance-hour. With a rate, Young (1974) and Daly (2006)
give the checkpoint interval that minimises the work lost plus the time spent
writing checkpoints.
"""

from __future__ import annotations

import math
from typing import Final

from mlcost.core import INTERRUPTION_BUCKETS, CostError
from mlcost.cost._unit_economics import HOURS_PER_MONTH

# Spot Instance Advisor bucket -> the monthly interrupted share planned for: the bucket's
# upper edge, so a plan never counts on fewer interruptions than the bucket allows.
_BUCKET_MONTHLY_SHARE: Final[dict[str, float]] = {
    "<5%": 0.05,
    "5-10%": 0.10,
    "10-15%": 0.15,
    "15-20%": 0.20,
    ">20%": 0.50,  # open-ended: the Advisor gives no upper bound; 50 % is deliberately pessimistic
}


def monthly_interruption_share(bucket: str) -> float:
    """The share of instances planned as interrupted in a month for an Advisor bucket.

    The Spot Instance Advisor buckets ("<5%", "5-10%", "10-15%", "15-20%",
    ">20%") are ranges; this is each range's upper edge (0.05, 0.10, 0.15,
    0.20), and 0.50 for the open ">20%" bucket: a deliberately pessimistic
    assumption, since the Advisor gives no upper bound. Returns the share in
    [0, 1); raises CostError for an unknown bucket.
    """
    share = _BUCKET_MONTHLY_SHARE.get(bucket.strip())
    if share is None:
        raise CostError(
            f"unknown interruption bucket {bucket!r}; use one of {', '.join(INTERRUPTION_BUCKETS)}"
        )
    return share


def interruptions_per_hour(bucket: str) -> float:
    """Interruptions per instance-hour for an AWS Spot Instance Advisor bucket.

    The bucket's planned monthly share p (monthly_interruption_share: the
    upper edge, 50 % for ">20%") is read as P(interrupted within 730 h) for a
    Poisson process, so the rate is -ln(1 - p) / 730. Returns that rate;
    raises CostError for an unknown bucket.
    """
    return -math.log1p(-monthly_interruption_share(bucket)) / HOURS_PER_MONTH


def young_daly_interval_s(
    checkpoint_write_s: float, mean_time_between_interruptions_s: float
) -> float:
    """The compute time between checkpoints that minimises expected lost plus write time.

    Daly's higher-order estimate (J. T. Daly, "A higher order estimate of the
    optimum checkpoint interval for restart dumps", Future Generation Computer
    Systems 22(3), 2006), refining Young's first-order sqrt(2CM) (J. W. Young,
    "A first order approximation to the optimum checkpoint interval",
    Communications of the ACM 17(9), 1974). With C the write time and M the
    mean time between interruptions:

        C < 2M:  T = sqrt(2CM) * (1 + sqrt(C/(2M))/3 + (C/(2M))/9) - C
        else:    T = M

    Returns T in seconds (infinite when M is infinite: no interruptions expected).
    Raises CostError unless C is positive and finite and M is positive.
    """
    c, m = checkpoint_write_s, mean_time_between_interruptions_s
    if not (c > 0 and math.isfinite(c)):
        raise CostError(f"checkpoint write time must be a positive number of seconds, got {c}")
    if not m > 0:  # also rejects NaN
        raise CostError(f"mean time between interruptions must be above 0 s, got {m}")
    if math.isinf(m):
        return math.inf
    if c >= 2 * m:
        return m
    ratio = c / (2 * m)
    return math.sqrt(2 * c * m) * (1 + math.sqrt(ratio) / 3 + ratio / 9) - c
