"""Traffic as requests per minute over the plan's horizon: built-in daily shapes, weekly factors, traces.

Conventions, so every stage reads the series the same way:

- Element ``i`` is the requests arriving in minute ``i`` of the horizon; minute
  0 is 00:00 on ``start_weekday`` (0 = Monday).
- A day's requests are ``requests_per_day`` times that weekday's factor; the
  seven factors average 1.0, so ``requests_per_day`` is the weekly average and
  a horizon of whole weeks sums to ``requests_per_day * days`` exactly.
- Within a day, hourly weights are the relative request *rate* at 00:00, 01:00,
  ... 23:00; minutes between follow a periodic monotone cubic (PCHIP), which
  is smooth, never overshoots its two neighbouring hours and never goes below
  zero. Each day's minutes are then scaled to the day's total.
- A trace is used from its first row (minute 0 of the series, whatever its
  clock time), repeated or cut to the horizon, and rescaled to
  ``requests_per_day`` when that is given too.
"""

from __future__ import annotations

import csv
import math
from datetime import datetime
from pathlib import Path
from typing import TextIO

import numpy as np
from numpy.typing import NDArray

from mlcost.core import DailyShape, PlanError, Traffic

MINUTES_PER_HOUR = 60
MINUTES_PER_DAY = 24 * MINUTES_PER_HOUR
MAX_TRACE_DAYS = 366

# Relative request rate at 00:00, 01:00, ... 23:00.
BUILTIN_HOURLY_WEIGHTS: dict[DailyShape, tuple[float, ...]] = {
    "flat": (1.0,) * 24,
    # Office software: quiet nights, a ramp from 07:00, a full working day with a
    # lunch dip, gone by 20:00. With no weekly pattern, weekends run at 25 %.
    "business-hours": (
        *(0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.08, 0.20, 0.55, 0.95, 1.00, 1.00),
        *(0.90, 0.95, 1.00, 1.00, 0.95, 0.85, 0.45, 0.20, 0.12, 0.08, 0.06, 0.05),
    ),
    # A consumer app: a morning peak at 09:00, a long busy day easing into the
    # evening, the trough at 02:00 at a quarter of the peak.
    "consumer": (
        *(0.42, 0.30, 0.24, 0.27, 0.34, 0.46, 0.62, 0.80, 0.94, 1.00, 0.97, 0.93),
        *(0.91, 0.89, 0.87, 0.85, 0.83, 0.81, 0.79, 0.76, 0.71, 0.64, 0.56, 0.49),
    ),
}

Series = NDArray[np.float64]


def minute_shape(hourly_weights: tuple[float, ...]) -> Series:
    """Returns 1,440 per-minute shares of a day (summing to 1.0) from 24 hourly rates.

    Raises PlanError unless there are 24 weights, none negative, some above 0.
    """
    rates = np.asarray(hourly_weights, dtype=np.float64)
    if rates.shape != (24,) or (rates < 0).any() or rates.sum() <= 0:
        raise PlanError("hourly weights: give 24 weights >= 0, at least one above 0")
    slopes = _pchip_slopes(rates)
    minutes = np.arange(MINUTES_PER_DAY)
    hour, s = minutes // MINUTES_PER_HOUR, (minutes % MINUTES_PER_HOUR) / MINUTES_PER_HOUR
    following = (hour + 1) % 24
    curve = (
        (2 * s**3 - 3 * s**2 + 1) * rates[hour]
        + (s**3 - 2 * s**2 + s) * slopes[hour]
        + (-2 * s**3 + 3 * s**2) * rates[following]
        + (s**3 - s**2) * slopes[following]
    )
    curve = np.clip(curve, 0.0, None)
    shape: Series = curve / curve.sum()
    return shape


def _pchip_slopes(rates: Series) -> Series:
    """Fritsch-Carlson slopes (per hour) at each hour of a periodic day."""
    after = np.roll(rates, -1) - rates
    before = np.roll(after, 1)
    same_sign = before * after > 0
    # Harmonic mean of the two secants where they agree; flat at a peak or a trough.
    with np.errstate(divide="ignore", invalid="ignore"):
        harmonic = np.where(same_sign, 2 * before * after / (before + after), 0.0)
    slopes: Series = harmonic.astype(np.float64)
    return slopes


def arrivals_per_minute(traffic: Traffic, *, horizon_days: int, start_weekday: int = 0) -> Series:
    """Returns requests arriving in each minute of the horizon (float64, horizon_days * 1,440).

    See the module docstring for the conventions. Raises PlanError for a
    horizon under one day, a start weekday outside 0-6, or a trace that cannot
    be read or would have to be repeated from the middle of a day.
    """
    if horizon_days < 1:
        raise PlanError(f"horizon: got {horizon_days} days; give at least 1")
    if not 0 <= start_weekday <= 6:
        raise PlanError(f"start weekday: got {start_weekday}; give 0 (Monday) to 6 (Sunday)")
    length = horizon_days * MINUTES_PER_DAY
    if traffic.trace is not None:
        return _from_trace(traffic, length)
    assert traffic.requests_per_day is not None  # Traffic refuses neither-trace-nor-volume
    weights = traffic.hourly_weights or BUILTIN_HOURLY_WEIGHTS[traffic.daily_shape]
    factors = np.asarray(traffic.weekly_factors(), dtype=np.float64)
    day_totals = traffic.requests_per_day * factors[(start_weekday + np.arange(horizon_days)) % 7]
    series: Series = np.outer(day_totals, minute_shape(weights)).ravel()
    return series


def _from_trace(traffic: Traffic, length: int) -> Series:
    assert traffic.trace is not None
    counts = read_trace(traffic.trace)
    if len(counts) < length and len(counts) % MINUTES_PER_DAY:
        raise PlanError(
            f"{traffic.trace}: the trace covers {len(counts):,} minutes, not whole days, and must be "
            f"repeated to fill {length // MINUTES_PER_DAY} days; cut it to whole days (multiples of 1,440 rows)"
        )
    if traffic.requests_per_day is not None:
        days_in_trace = len(counts) / MINUTES_PER_DAY
        counts = counts * (traffic.requests_per_day * days_in_trace / counts.sum())
    series: Series = np.resize(counts, length).astype(np.float64)
    return series


def read_trace(path: Path) -> Series:
    """Returns per-minute request counts from a trace CSV, gaps between rows filled with 0.

    The header is ``minute,count`` (whole minutes, increasing) or
    ``timestamp,count`` (ISO 8601 on whole minutes, increasing, all with or
    all without a time zone). Blank lines are skipped. The trace must cover at
    least one day and at most 366, with some count above 0. Raises PlanError
    with one line ``FILE:LINE: what is wrong; what to do``.
    """
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            return _parse_trace(path, handle)
    except OSError as exc:
        raise PlanError(f"{path}: cannot read the trace: {exc.strerror}; check the path") from exc
    except UnicodeDecodeError as exc:
        raise PlanError(f"{path}:1: the trace is not UTF-8 text; save it as a UTF-8 CSV") from exc


def _parse_trace(path: Path, handle: TextIO) -> Series:
    reader = csv.reader(handle)
    column: str | None = None
    minutes: list[int] = []
    counts: list[float] = []
    first_time: datetime | None = None
    line = 0
    for row in reader:
        line = reader.line_num
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        where = f"{path}:{line}"
        if column is None:
            column = _header(where, cells)
            continue
        if len(cells) != 2:
            raise PlanError(
                f"{where}: expected 2 columns ({column},count), got {len(cells)}; give one {column} and one count per line"
            )
        if column == "minute":
            minute = _whole_minute(where, cells[0])
        else:
            stamp = _timestamp(where, cells[0])
            first_time = first_time or stamp
            minute = _minutes_between(where, first_time, stamp)
        if minutes and minute <= minutes[-1]:
            order = "repeats" if minute == minutes[-1] else "comes after"
            raise PlanError(
                f"{where}: {column} {cells[0]} {order} the row before; sort the trace by {column}, one row per minute"
            )
        if minute - (minutes[0] if minutes else minute) >= MAX_TRACE_DAYS * MINUTES_PER_DAY:
            raise PlanError(
                f"{where}: the trace runs past {MAX_TRACE_DAYS} days; cut it to a year or less"
            )
        minutes.append(minute)
        counts.append(_count(where, cells[1]))
    return _filled(path, line, minutes, counts, column)


def _filled(
    path: Path, line: int, minutes: list[int], counts: list[float], column: str | None
) -> Series:
    """The counts on a minute grid starting at the first row, zeros where rows are missing."""
    if column is None:
        raise PlanError(
            f"{path}:1: the trace is empty; give a header (minute,count) and one row per minute"
        )
    span = minutes[-1] - minutes[0] + 1 if minutes else 0
    if span < MINUTES_PER_DAY:
        raise PlanError(
            f"{path}:{line}: the trace covers {span:,} minutes; give at least one day (1,440 minutes)"
        )
    series: Series = np.zeros(span, dtype=np.float64)
    series[np.asarray(minutes) - minutes[0]] = counts
    if series.sum() <= 0:
        raise PlanError(
            f"{path}:{line}: every count in the trace is 0; give the requests each minute"
        )
    return series


def _header(where: str, cells: list[str]) -> str:
    names = [cell.lower() for cell in cells]
    if len(names) == 2 and names[0] in ("minute", "timestamp") and names[1] == "count":
        return names[0]
    raise PlanError(
        f"{where}: the header is {','.join(cells)!r}; start the trace with 'minute,count' or 'timestamp,count'"
    )


def _whole_minute(where: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise PlanError(
            f"{where}: minute {text!r} is not a whole number; give minutes as 0, 1, 2, ..."
        ) from None


def _timestamp(where: str, text: str) -> datetime:
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        raise PlanError(
            f"{where}: timestamp {text!r} is not ISO 8601; write it like 2024-05-06T09:00:00Z"
        ) from None
    if stamp.second or stamp.microsecond:
        raise PlanError(
            f"{where}: timestamp {text!r} is not on a whole minute; give one row per minute, seconds 00"
        )
    return stamp


def _minutes_between(where: str, first: datetime, stamp: datetime) -> int:
    try:
        seconds = (stamp - first).total_seconds()
    except TypeError:
        raise PlanError(
            f"{where}: this timestamp and the first differ in having a time zone; give all with one or all without"
        ) from None
    return int(seconds // 60)


def _count(where: str, text: str) -> float:
    try:
        count = float(text)
    except ValueError:
        raise PlanError(
            f"{where}: count {text!r} is not a number; give the requests in that minute"
        ) from None
    if not math.isfinite(count) or count < 0:
        raise PlanError(
            f"{where}: count {text} is not a number >= 0; give the requests in that minute"
        )
    return count


def peak_to_mean(arrivals: Series, *, window_minutes: int = 1) -> float:
    """Returns the busiest window's average rate over the whole series' average rate.

    ``window_minutes`` smooths the peak over a moving window (the time an
    autoscaler needs to react, say). Raises PlanError for an empty or all-zero
    series or a window outside 1..len(arrivals).
    """
    if not 1 <= window_minutes <= len(arrivals):
        raise PlanError(f"peak window: got {window_minutes} minutes; give 1 to {len(arrivals)}")
    mean = float(arrivals.mean())
    if mean <= 0:
        raise PlanError("the series has no requests; a peak-to-mean ratio needs some")
    sums = np.cumsum(np.concatenate(([0.0], arrivals)))
    peak = float((sums[window_minutes:] - sums[:-window_minutes]).max()) / window_minutes
    return peak / mean
