from __future__ import annotations

import math

import pytest

from mlcost.core import TrainError
from mlcost.cost import young_daly_interval_s
from mlcost.train._interval import CheckpointPolicy, CheckpointSchedule


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now_s: float = 1000.0) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds


# -- policy parsing -------------------------------------------------------------------


@pytest.mark.parametrize("text", ["200", "200steps", "200 steps", " 200step ", "200STEPS"])
def test_parse_steps(text: str) -> None:
    assert CheckpointPolicy.parse(text) == CheckpointPolicy(every_steps=200)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90.0), ("10m", 600.0), ("1h", 3600.0), ("1.5h", 5400.0), ("10 m", 600.0)],
)
def test_parse_time(text: str, seconds: float) -> None:
    assert CheckpointPolicy.parse(text) == CheckpointPolicy(every_s=seconds)


def test_parse_auto_keeps_the_rate() -> None:
    policy = CheckpointPolicy.parse("auto", interruptions_per_hour=0.001)
    assert policy.is_auto
    assert policy.interruptions_per_hour == 0.001
    assert policy.mtbi_s == pytest.approx(3.6e6)
    assert CheckpointPolicy.parse(" AUTO ", interruptions_per_hour=0.001) == policy


def test_auto_without_a_rate_says_to_pass_one() -> None:
    with pytest.raises(TrainError, match="interruptions_per_hour or an interruption bucket"):
        CheckpointPolicy.parse("auto")
    with pytest.raises(TrainError, match="interruption bucket"):
        CheckpointPolicy(is_auto=True)


@pytest.mark.parametrize(
    "text", ["", "x", "0", "0s", "-5", "10d", "10 minutes", "s", "auto5", "1e3", "12.5"]
)
def test_parse_rejects_everything_else(text: str) -> None:
    message = f"checkpoint interval {text!r} is not N (steps), Ns/Nm/Nh or auto"
    with pytest.raises(TrainError) as caught:
        CheckpointPolicy.parse(text, interruptions_per_hour=0.001)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"every_steps": 10, "every_s": 5.0},
        {"every_steps": 0},
        {"every_s": 0.0},
        {"every_s": math.inf},
        {"is_auto": True, "interruptions_per_hour": -1.0},
        {"is_auto": True, "interruptions_per_hour": 0.1, "max_interval_s": 0.0},
    ],
)
def test_policy_rejects_inconsistent_fields(kwargs: dict[str, object]) -> None:
    with pytest.raises(TrainError):
        CheckpointPolicy(**kwargs)  # type: ignore[arg-type]


# -- schedule -------------------------------------------------------------------------


def test_step_schedule_fires_on_multiples_of_n() -> None:
    schedule = CheckpointSchedule(CheckpointPolicy(every_steps=200), clock=FakeClock())
    assert [s for s in range(0, 1001) if schedule.is_due(s)] == [200, 400, 600, 800, 1000]
    assert schedule.interval_s is None
    assert schedule.describe() == "every 200 steps"


def test_time_schedule_fires_after_the_interval_and_restarts_on_record() -> None:
    clock = FakeClock()
    schedule = CheckpointSchedule(CheckpointPolicy.parse("90s"), clock=clock)
    clock.advance(89.9)
    assert not schedule.is_due(1)
    clock.advance(0.1)
    assert schedule.is_due(2)
    clock.advance(5.0)
    schedule.record_checkpoint(2, write_s=5.0)
    assert schedule.last_checkpoint_step == 2
    clock.advance(89.0)
    assert not schedule.is_due(3)
    clock.advance(1.0)
    assert schedule.is_due(4)
    assert schedule.interval_s == 90.0
    assert schedule.describe() == "every 90 s"


def test_auto_first_checkpoint_comes_after_60_s_to_measure_the_write() -> None:
    clock = FakeClock()
    policy = CheckpointPolicy.parse("auto", interruptions_per_hour=1 / 9350)
    schedule = CheckpointSchedule(policy, clock=clock)
    assert schedule.interval_s == 60.0
    assert schedule.describe() == (
        "auto: first checkpoint after 60 s to measure the write time "
        "(MTBI 9,350 h, capped at 1,800 s)"
    )
    clock.advance(59.0)
    assert not schedule.is_due(10)
    clock.advance(1.0)
    assert schedule.is_due(11)


def test_auto_interval_comes_from_the_measured_write_time() -> None:
    clock = FakeClock()
    # One interruption per day, no cap in the way: Daly with C = 60 s, M = 86,400 s.
    policy = CheckpointPolicy(is_auto=True, interruptions_per_hour=1 / 24, max_interval_s=1e9)
    schedule = CheckpointSchedule(policy, clock=clock)
    clock.advance(60.0)
    schedule.record_checkpoint(11, write_s=60.0)
    assert schedule.interval_s == pytest.approx(3180.06, abs=0.01)
    clock.advance(3180.0)
    assert not schedule.is_due(500)
    clock.advance(0.1)
    assert schedule.is_due(501)


def test_auto_keeps_a_running_mean_of_write_times() -> None:
    clock = FakeClock()
    policy = CheckpointPolicy(is_auto=True, interruptions_per_hour=1 / 24, max_interval_s=1e9)
    schedule = CheckpointSchedule(policy, clock=clock)
    for write_s in (40.0, 80.0, 60.0):
        schedule.record_checkpoint(1, write_s=write_s)
    assert schedule.mean_write_s == pytest.approx(60.0)
    assert schedule.interval_s == pytest.approx(young_daly_interval_s(60.0, 86400.0))


def test_auto_interval_is_capped() -> None:
    clock = FakeClock()
    policy = CheckpointPolicy.parse("auto", interruptions_per_hour=1 / 9350)
    schedule = CheckpointSchedule(policy, clock=clock)
    schedule.record_checkpoint(11, write_s=1.8)
    # Uncapped Daly would be about 11,007 s; the cap keeps lost work under 30 min.
    assert schedule.interval_s == 1800.0
    assert schedule.describe() == (
        "auto: every 1,800 s (Young/Daly: write 1.8 s, MTBI 9,350 h, capped at 1,800 s)"
    )
    clock.advance(1799.0)
    assert not schedule.is_due(12)
    clock.advance(1.0)
    assert schedule.is_due(13)


def test_auto_below_the_cap_describes_the_optimum() -> None:
    policy = CheckpointPolicy(is_auto=True, interruptions_per_hour=1.0, max_interval_s=1800.0)
    schedule = CheckpointSchedule(policy, clock=FakeClock())
    schedule.record_checkpoint(1, write_s=20.0)
    # Daly with C = 20 s, M = 3,600 s: C/2M = 0.0027778, factor = 1 + 0.017568 + 0.000309
    # = 1.0178766; sqrt(144,000) = 379.4733; T = 379.4733 * 1.0178766 - 20 = 366.26 s.
    assert schedule.interval_s == pytest.approx(366.26, abs=0.01)
    assert schedule.describe() == (
        "auto: every 366 s (Young/Daly: write 20.0 s, MTBI 1 h, capped at 1,800 s)"
    )


def test_auto_without_interruptions_waits_the_cap() -> None:
    policy = CheckpointPolicy(is_auto=True, interruptions_per_hour=0.0, max_interval_s=600.0)
    schedule = CheckpointSchedule(policy, clock=FakeClock())
    schedule.record_checkpoint(1, write_s=0.0)  # a write too fast to time still works
    assert schedule.interval_s == 600.0
    assert "no interruptions expected" in schedule.describe()


def test_auto_first_checkpoint_respects_a_cap_below_60_s() -> None:
    policy = CheckpointPolicy(is_auto=True, interruptions_per_hour=0.1, max_interval_s=30.0)
    assert CheckpointSchedule(policy, clock=FakeClock()).interval_s == 30.0


@pytest.mark.parametrize("write_s", [-1.0, math.nan, math.inf])
def test_record_rejects_impossible_write_times(write_s: float) -> None:
    schedule = CheckpointSchedule(CheckpointPolicy(every_steps=1), clock=FakeClock())
    with pytest.raises(TrainError):
        schedule.record_checkpoint(1, write_s=write_s)
