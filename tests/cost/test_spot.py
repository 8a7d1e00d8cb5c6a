"""Spot arithmetic: Advisor buckets -> interruption rates, and the Young/Daly interval."""

from __future__ import annotations

import math

import pytest

from mlcost.core import INTERRUPTION_BUCKETS, CostError
from mlcost.cost import (
    HOURS_PER_MONTH,
    interruptions_per_hour,
    monthly_interruption_share,
    young_daly_interval_s,
)

# -- Young/Daly ---------------------------------------------------------------------


def test_daly_interval_for_a_one_minute_write_and_a_one_day_mtbi() -> None:
    # By hand: 2CM = 2*60*86400 = 10,368,000, sqrt = 3219.9379;
    # C/2M = 3.4722e-4, sqrt = 0.0186339; factor = 1 + 0.0062113 + 0.0000386 = 1.0062499;
    # T = 3219.9379 * 1.0062499 - 60 = 3180.06 s.
    assert young_daly_interval_s(60.0, 86400.0) == pytest.approx(3180.06, abs=0.01)


def test_daly_interval_for_a_fast_write_is_close_to_young() -> None:
    # C = 1.8 s, M = 9,350 h: sqrt(2CM) = sqrt(2*1.8*33,660,000) = 11,008.0; the
    # higher-order terms add 11,008 * (sqrt(2.674e-8)/3) = 0.6 s and Daly subtracts C.
    t = young_daly_interval_s(1.8, 9350 * 3600.0)
    assert t == pytest.approx(11008.0 + 0.6 - 1.8, abs=0.1)  # 11,006.8 s
    assert t < math.sqrt(2 * 1.8 * 9350 * 3600.0)


def test_daly_interval_is_the_mtbi_once_a_write_takes_two_mtbis() -> None:
    assert young_daly_interval_s(200.0, 100.0) == 100.0
    assert young_daly_interval_s(500.0, 100.0) == 100.0
    # Just below the limit the formula still applies: sqrt(2*199.8*100)*(1+0.333+0.111)-199.8
    just_below = young_daly_interval_s(199.8, 100.0)
    assert just_below == pytest.approx(
        math.sqrt(2 * 199.8 * 100) * (1 + math.sqrt(0.999) / 3 + 0.999 / 9) - 199.8
    )


def test_daly_interval_is_infinite_without_interruptions() -> None:
    assert young_daly_interval_s(5.0, math.inf) == math.inf


@pytest.mark.parametrize(
    ("write_s", "mtbi_s", "message"),
    [
        (0.0, 100.0, "checkpoint write time"),
        (-1.0, 100.0, "checkpoint write time"),
        (math.nan, 100.0, "checkpoint write time"),
        (1.0, 0.0, "mean time between interruptions"),
        (1.0, -5.0, "mean time between interruptions"),
        (1.0, math.nan, "mean time between interruptions"),
    ],
)
def test_daly_interval_rejects_impossible_inputs(
    write_s: float, mtbi_s: float, message: str
) -> None:
    with pytest.raises(CostError, match=message):
        young_daly_interval_s(write_s, mtbi_s)


# -- interruption buckets -------------------------------------------------------------


@pytest.mark.parametrize(
    ("bucket", "share", "rate_per_hour"),
    [
        # -ln(1 - p) / 730 by hand: -ln(0.95) = 0.0512933, -ln(0.90) = 0.1053605,
        # -ln(0.85) = 0.1625189, -ln(0.80) = 0.2231436, -ln(0.50) = 0.6931472.
        ("<5%", 0.05, 7.02648e-5),
        ("5-10%", 0.10, 1.44329e-4),
        ("10-15%", 0.15, 2.22629e-4),
        ("15-20%", 0.20, 3.05676e-4),
        (">20%", 0.50, 9.49517e-4),
    ],
)
def test_each_bucket_plans_for_its_upper_edge(
    bucket: str, share: float, rate_per_hour: float
) -> None:
    assert monthly_interruption_share(bucket) == share
    rate = interruptions_per_hour(bucket)
    assert rate == pytest.approx(rate_per_hour, rel=1e-5)
    # Back to the monthly share: P(at least one interruption in a 730-hour month).
    assert 1 - math.exp(-rate * HOURS_PER_MONTH) == pytest.approx(share)


def test_the_open_bucket_is_pessimistic_and_the_rate_never_undercounts_a_bucket() -> None:
    # The upper edge: a machine in "5-10%" is planned at 10 %, never at the midpoint 7.5 %.
    assert interruptions_per_hour("5-10%") > -math.log(1 - 0.075) / HOURS_PER_MONTH
    # ">20%" has no upper bound in the Advisor: 50 %, an MTBI of about 1,053 h per instance.
    assert 1 / interruptions_per_hour(">20%") == pytest.approx(1053.2, abs=0.1)


def test_every_advisor_bucket_has_a_rate_and_rates_grow() -> None:
    rates = [interruptions_per_hour(bucket) for bucket in INTERRUPTION_BUCKETS]
    assert rates == sorted(rates) and len(set(rates)) == len(rates)


def test_a_bucket_is_read_without_surrounding_spaces() -> None:
    assert interruptions_per_hour(" >20% ") == interruptions_per_hour(">20%")


def test_unknown_bucket_is_a_cost_error_that_lists_the_buckets() -> None:
    with pytest.raises(CostError, match=r"unknown interruption bucket '30%'.*<5%, 5-10%.*>20%"):
        interruptions_per_hour("30%")
    with pytest.raises(CostError, match="unknown interruption bucket"):
        monthly_interruption_share("")
