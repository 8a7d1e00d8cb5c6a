"""When to checkpoint: every N steps, every N seconds, or the Young/Daly optimum.

A checkpoint costs its write time; a missed one costs the work since the last
one when the machine is taken away. For a known write time C and mean time
between interruptions M, Young (1974) and Daly (2006) give the interval that
minimises the expected total (``mlcost.cost.young_daly_interval_s``); ``auto``
measures C from the checkpoints the run writes and takes M from the spot
interruption rate (``mlcost.cost.interruptions_per_hour`` for a bucket).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from mlcost.core import INTERRUPTION_BUCKETS, TrainError
from mlcost.cost import young_daly_interval_s

FIRST_AUTO_CHECKPOINT_S: Final = 60.0  # auto's first checkpoint, there to measure the write time
_MIN_WRITE_S: Final = 0.001  # a write timed at 0 s would make the optimum 0 s (every step)

_STEPS_RE = re.compile(r"(\d+)\s*(?:steps?)?")
_TIME_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([smh])")
_SECONDS_PER_UNIT: Final[dict[str, float]] = {"s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True, slots=True)
class CheckpointPolicy:
    """How often to checkpoint: exactly one of every_steps, every_s or is_auto.

    ``interruptions_per_hour`` is the rate the auto policy plans for: the rate
    of the whole job, i.e. per-instance rate times instances when any one
    instance lost stops the job. ``max_interval_s`` bounds auto's interval, and
    with it the work lost when a preemption notice is missed.

    Raises TrainError when the fields do not describe exactly one valid policy.
    """

    every_steps: int | None = None
    every_s: float | None = None
    is_auto: bool = False
    interruptions_per_hour: float | None = None
    max_interval_s: float = 1800.0

    def __post_init__(self) -> None:
        chosen = (self.every_steps is not None) + (self.every_s is not None) + self.is_auto
        if chosen != 1:
            raise TrainError(
                "a checkpoint policy needs exactly one of every_steps, every_s or is_auto"
            )
        if self.every_steps is not None and self.every_steps < 1:
            raise TrainError(f"checkpoint every_steps must be 1 or more, got {self.every_steps}")
        if self.every_s is not None and not (self.every_s > 0 and math.isfinite(self.every_s)):
            raise TrainError(f"checkpoint every_s must be above 0 s, got {self.every_s}")
        if not self.max_interval_s > 0:
            raise TrainError(
                f"checkpoint max_interval_s must be above 0 s, got {self.max_interval_s}"
            )
        self._check_rate()

    def _check_rate(self) -> None:
        rate = self.interruptions_per_hour
        if self.is_auto and rate is None:
            raise TrainError(
                "checkpoint interval auto needs the interruption rate: pass "
                "interruptions_per_hour or an interruption bucket "
                f"({', '.join(INTERRUPTION_BUCKETS)})"
            )
        if rate is not None and not (rate >= 0 and math.isfinite(rate)):
            raise TrainError(f"interruptions per hour must be 0 or more, got {rate}")

    @classmethod
    def parse(cls, text: str, *, interruptions_per_hour: float | None = None) -> CheckpointPolicy:
        """The policy written as "200" or "200steps", "90s"/"10m"/"1h", or "auto".

        Returns the policy; raises TrainError for any other text, a zero
        interval, or "auto" without ``interruptions_per_hour``.
        """
        spec = text.strip().lower()
        if spec == "auto":
            return cls(is_auto=True, interruptions_per_hour=interruptions_per_hour)
        rate = interruptions_per_hour
        if steps := _STEPS_RE.fullmatch(spec):
            count = int(steps.group(1))
            if count >= 1:
                return cls(every_steps=count, interruptions_per_hour=rate)
        elif timed := _TIME_RE.fullmatch(spec):
            seconds = float(timed.group(1)) * _SECONDS_PER_UNIT[timed.group(2)]
            if seconds > 0:
                return cls(every_s=seconds, interruptions_per_hour=rate)
        raise TrainError(f"checkpoint interval {text!r} is not N (steps), Ns/Nm/Nh or auto")

    @property
    def mtbi_s(self) -> float | None:
        """Mean time between interruptions in seconds (inf for rate 0); None without a rate."""
        rate = self.interruptions_per_hour
        if rate is None:
            return None
        return math.inf if rate == 0 else 3600.0 / rate


class CheckpointSchedule:
    """Decides, step by step, whether a checkpoint is due.

    Step policies fire when the completed global step is a multiple of N (so a
    resumed run keeps the same checkpoint steps). Time policies fire once the
    interval has passed since the last recorded checkpoint (or since the
    schedule was made). Takes an injected clock (callable returning seconds,
    default time.monotonic) for tests.
    """

    def __init__(
        self, policy: CheckpointPolicy, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.policy = policy
        self._clock = clock
        self._last_checkpoint_at_s = clock()
        self._write_s_total = 0.0
        self._writes = 0
        self.last_checkpoint_step: int | None = None

    def is_due(self, step: int) -> bool:
        """True when a checkpoint should be written after global step ``step``."""
        if self.policy.every_steps is not None:
            return step > 0 and step % self.policy.every_steps == 0
        interval_s = self.interval_s
        assert interval_s is not None  # every time-based policy has an interval
        return self._clock() - self._last_checkpoint_at_s >= interval_s

    def record_checkpoint(self, step: int, write_s: float) -> None:
        """Note a checkpoint written after ``step`` that took ``write_s`` seconds.

        Call it once the write has finished: the timer restarts now, and auto
        folds ``write_s`` into its running mean. Raises TrainError for a
        negative or non-finite write time.
        """
        if not (write_s >= 0 and math.isfinite(write_s)):
            raise TrainError(f"checkpoint write time must be 0 s or more, got {write_s}")
        self._last_checkpoint_at_s = self._clock()
        self.last_checkpoint_step = step
        self._write_s_total += write_s
        self._writes += 1

    @property
    def mean_write_s(self) -> float | None:
        """Mean measured checkpoint write time in seconds; None before the first checkpoint."""
        return self._write_s_total / self._writes if self._writes else None

    @property
    def interval_s(self) -> float | None:
        """Current time interval in seconds; None for a step policy.

        Auto: Young/Daly from the mean measured write time, capped at
        max_interval_s; before any measurement, 60 s (or the cap if lower) so
        the first checkpoint measures the write time.
        """
        policy = self.policy
        if policy.every_steps is not None:
            return None
        if policy.every_s is not None:
            return policy.every_s
        mean_write_s, mtbi_s = self.mean_write_s, policy.mtbi_s
        if mean_write_s is None or mtbi_s is None:
            return min(FIRST_AUTO_CHECKPOINT_S, policy.max_interval_s)
        optimum_s = young_daly_interval_s(max(mean_write_s, _MIN_WRITE_S), mtbi_s)
        return min(optimum_s, policy.max_interval_s)

    def describe(self) -> str:
        """One line saying when checkpoints happen and, for auto, why."""
        policy = self.policy
        if policy.every_steps is not None:
            return f"every {policy.every_steps:,} steps"
        if policy.every_s is not None:
            return f"every {_seconds(policy.every_s)}"
        mtbi = _mtbi_text(policy.mtbi_s)
        cap = f"capped at {_seconds(policy.max_interval_s)}"
        if self.mean_write_s is None:
            first = _seconds(min(FIRST_AUTO_CHECKPOINT_S, policy.max_interval_s))
            return f"auto: first checkpoint after {first} to measure the write time ({mtbi}, {cap})"
        interval_s = self.interval_s
        assert interval_s is not None  # auto always has an interval
        return (
            f"auto: every {_seconds(interval_s)} "
            f"(Young/Daly: write {_write_text(self.mean_write_s)}, {mtbi}, {cap})"
        )


def _seconds(value_s: float) -> str:
    """Seconds for a message: "412 s", "1,800 s"."""
    return f"{value_s:,.0f} s"


def _write_text(write_s: float) -> str:
    """A write time for a message: "1.8 s", or "0.004 s" for very fast writes."""
    return f"{write_s:.1f} s" if write_s >= 0.1 else f"{write_s:.3f} s"


def _mtbi_text(mtbi_s: float | None) -> str:
    """The mean time between interruptions for a message: "MTBI 9,350 h"."""
    if mtbi_s is None or math.isinf(mtbi_s):
        return "no interruptions expected"
    return f"MTBI {mtbi_s / 3600:,.0f} h"
