"""Traffic as requests per minute: totals, daily shapes, weekly factors, traces and their errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlcost.core import DAILY_SHAPES, PlanError, Traffic
from mlcost.plan._traffic import (
    BUILTIN_HOURLY_WEIGHTS,
    arrivals_per_minute,
    minute_shape,
    peak_to_mean,
    read_trace,
)

DAY = 1440


def _days(series: np.ndarray) -> np.ndarray:
    return series.reshape(-1, DAY)


def test_every_named_shape_has_hourly_weights() -> None:
    assert set(BUILTIN_HOURLY_WEIGHTS) == set(DAILY_SHAPES)


def test_flat_traffic_is_the_same_every_minute() -> None:
    series = arrivals_per_minute(Traffic(requests_per_day=1_440_000), horizon_days=3)
    assert series.dtype == np.float64 and series.shape == (3 * DAY,)
    assert np.allclose(series, 1000.0)
    assert peak_to_mean(series) == pytest.approx(1.0)


def test_consumer_traffic_peaks_at_nine_and_bottoms_out_at_two() -> None:
    series = arrivals_per_minute(
        Traffic(requests_per_day=1_000_000, daily_shape="consumer"), horizon_days=30
    )
    assert series.sum() == pytest.approx(30_000_000)
    for day in _days(series):
        assert day.sum() == pytest.approx(1_000_000)
        assert int(day.argmax()) == 9 * 60
        assert int(day.argmin()) == 2 * 60
    assert 1.3 < peak_to_mean(series) < 1.6


def test_business_hours_traffic_is_mostly_nine_to_six_on_weekdays() -> None:
    series = arrivals_per_minute(
        Traffic(requests_per_day=1_000_000, daily_shape="business-hours"), horizon_days=7
    )
    monday, sunday = _days(series)[0], _days(series)[6]
    assert monday[9 * 60 : 18 * 60].sum() / monday.sum() > 0.75
    assert sunday.sum() == pytest.approx(0.25 * monday.sum())
    assert series.sum() == pytest.approx(7_000_000)


def test_weekly_factors_average_to_requests_per_day() -> None:
    traffic = Traffic(requests_per_day=700, weekly={"weekday": 1.0, "weekend": 0.3})
    per_day = _days(arrivals_per_minute(traffic, horizon_days=14)).sum(axis=1)
    assert per_day[:5] == pytest.approx([875] * 5)  # 700 * 7 / (5 + 0.6)
    assert per_day[5:7] == pytest.approx([262.5, 262.5])
    assert per_day.sum() == pytest.approx(700 * 14)  # whole weeks: exact


def test_seven_day_weights_start_on_the_given_weekday() -> None:
    traffic = Traffic(requests_per_day=100, weekly=[1, 2, 3, 4, 5, 6, 7])
    per_day = _days(arrivals_per_minute(traffic, horizon_days=9, start_weekday=5)).sum(axis=1)
    # Saturday, Sunday, Monday ... Sunday; each day is 100 * weight / mean weight (4).
    assert per_day == pytest.approx([150, 175, 25, 50, 75, 100, 125, 150, 175])


def test_hourly_weights_interpolate_without_overshoot() -> None:
    weights = (0.0,) * 12 + (1.0,) + (0.0,) * 11
    shape = minute_shape(weights)
    assert shape.sum() == pytest.approx(1.0)
    assert (shape >= 0).all()
    assert int(shape.argmax()) == 12 * 60
    assert shape[: 11 * 60 + 1].sum() == 0  # the rate stays 0 between hours that are 0
    # Steps between neighbouring minutes are small: the curve is smooth, not a staircase.
    ramp = minute_shape((1.0,) * 12 + (2.0,) * 12)
    assert np.abs(np.diff(ramp)).max() < 0.05 * ramp.max()


def _write_trace(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "trace.csv"
    path.write_text(text)
    return path


def test_a_trace_is_tiled_then_cropped_to_the_horizon(tmp_path: Path) -> None:
    counts = np.arange(2 * DAY) % 11
    rows = "".join(f"{minute},{count}\n" for minute, count in enumerate(counts))
    trace = _write_trace(tmp_path, "minute,count\n" + rows)
    series = arrivals_per_minute(Traffic(trace=trace), horizon_days=5)
    assert np.array_equal(series, np.resize(counts, 5 * DAY).astype(float))
    assert np.array_equal(arrivals_per_minute(Traffic(trace=trace), horizon_days=1), counts[:DAY])
    rescaled = arrivals_per_minute(Traffic(trace=trace, requests_per_day=1000), horizon_days=2)
    assert rescaled.sum() == pytest.approx(2000)


def test_timestamp_traces_fill_missing_minutes_with_zero(tmp_path: Path) -> None:
    rows = ["timestamp,count", "2024-05-06T00:00:00Z,4", "2024-05-06T00:03:00Z,6"]
    rows.append("2024-05-06T23:59:00Z,2")
    counts = read_trace(_write_trace(tmp_path, "\n".join(rows) + "\n"))
    assert counts.shape == (DAY,)
    assert counts[:5].tolist() == [4, 0, 0, 6, 0]
    assert counts.sum() == 12


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "when,requests\n0,1\n",
            "trace.csv:1: the header is 'when,requests'; start the trace with 'minute,count' or 'timestamp,count'",
            id="header",
        ),
        pytest.param(
            "minute,count\n0,1\n1,-3\n",
            "trace.csv:3: count -3 is not a number >= 0; give the requests in that minute",
            id="negative-count",
        ),
        pytest.param(
            "minute,count\n0,1\n\n1,2,3\n",
            "trace.csv:4: expected 2 columns (minute,count), got 3; give one minute and one count per line",
            id="columns",
        ),
        pytest.param(
            "minute,count\n0,1\n5,1\n4,1\n",
            "trace.csv:4: minute 4 comes after the row before; sort the trace by minute, one row per minute",
            id="out-of-order",
        ),
        pytest.param(
            "minute,count\n0,1\n0.5,1\n",
            "trace.csv:3: minute '0.5' is not a whole number; give minutes as 0, 1, 2, ...",
            id="fractional-minute",
        ),
        pytest.param(
            "timestamp,count\n2024-05-06T00:00:30,1\n",
            "trace.csv:2: timestamp '2024-05-06T00:00:30' is not on a whole minute; give one row per minute, seconds 00",
            id="seconds",
        ),
        pytest.param(
            "timestamp,count\n2024-05-06T00:00Z,1\n2024-05-06T00:01,1\n",
            "trace.csv:3: this timestamp and the first differ in having a time zone; give all with one or all without",
            id="mixed-time-zones",
        ),
        pytest.param(
            "minute,count\n0,1\n59,1\n",
            "trace.csv:3: the trace covers 60 minutes; give at least one day (1,440 minutes)",
            id="shorter-than-a-day",
        ),
    ],
)
def test_each_bad_trace_line_is_named(tmp_path: Path, text: str, expected: str) -> None:
    path = _write_trace(tmp_path, text)
    with pytest.raises(PlanError) as info:
        read_trace(path)
    assert str(info.value) == f"{tmp_path}/{expected}"


def test_a_trace_of_part_days_is_not_repeated_out_of_phase(tmp_path: Path) -> None:
    rows = "".join(f"{minute},1\n" for minute in range(DAY + 60))
    trace = _write_trace(tmp_path, "minute,count\n" + rows)
    with pytest.raises(PlanError, match="covers 1,500 minutes, not whole days"):
        arrivals_per_minute(Traffic(trace=trace), horizon_days=2)
    cropped = arrivals_per_minute(Traffic(trace=trace), horizon_days=1)
    assert cropped.sum() == DAY


def test_peak_to_mean_over_a_window() -> None:
    series = np.array([1.0, 1.0, 4.0, 2.0])
    assert peak_to_mean(series) == pytest.approx(2.0)
    assert peak_to_mean(series, window_minutes=2) == pytest.approx(1.5)
    with pytest.raises(PlanError, match="give 1 to 4"):
        peak_to_mean(series, window_minutes=5)
