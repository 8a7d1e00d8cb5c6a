"""The monitor's judgements without a server: windows, drift, the GPU metric to trust, the
calibration it reads, the readings it keeps, and the CLI's one-line refusals."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from mlcost.core import MonitorFigure, MonitorReading, PlanGap, ServeError, Store
from mlcost.core._store import _monitor_readings
from mlcost.finops import (
    Calibrated,
    choose_gpu_utilization,
    escalation_drift,
    read_calibration,
    window_seconds,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibration_file import write_calibration
from test_cli import run


@pytest.mark.parametrize(
    ("text", "seconds"), [("1h", 3600), ("90s", 90), ("1h30m", 5400), ("2d", 172800)]
)
def test_a_window_is_a_prometheus_duration(text: str, seconds: float) -> None:
    assert window_seconds(text) == seconds


@pytest.mark.parametrize("text", ["1 hour", "h", "1.5h", "0s", ""])
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration|no time"):
        window_seconds(text)


def test_drift_is_a_gap_past_five_points_and_past_sampling_noise() -> None:
    calibrated = Calibrated(0.8, 0.20, 2314, "cascade.json")
    assert "escalates 40.0% of 1,000 texts, more than the 20.0%" in escalation_drift(
        0.40, 1000, calibrated
    )
    assert "fewer" in escalation_drift(0.05, 5000, calibrated)
    assert escalation_drift(0.23, 100_000, calibrated) == ""  # within 5 points
    assert escalation_drift(0.35, 20, calibrated) == ""  # 20 texts: noise explains 15 points


def test_the_profiling_metric_wins_and_the_coarse_one_comes_with_its_caveat() -> None:
    assert choose_gpu_utilization(0.42, 0.99) == (0.42, "DCGM_FI_PROF_GR_ENGINE_ACTIVE", "")
    value, metric, warning = choose_gpu_utilization(None, 0.0)
    assert (value, metric) == (0.0, "DCGM_FI_DEV_GPU_UTIL")
    assert "reads 0 on MIG slices and 100 on a hung NCCL collective" in warning
    assert choose_gpu_utilization(None, None) == (None, None, "")


def test_the_calibration_is_read_as_cascade_calibrate_writes_it(tmp_path: Path) -> None:
    path = write_calibration(
        tmp_path / "cascade.json", threshold=0.78, escalation_rate=0.21, rows=2314
    )
    calibrated = read_calibration(path)
    assert (calibrated.threshold, calibrated.escalation_rate, calibrated.rows) == (0.78, 0.21, 2314)
    assert calibrated.source == "cascade.json: guarantee on 2314 validation rows"
    (tmp_path / "bad.json").write_text('{"chosen": {}}')
    with pytest.raises(ServeError, match="not a calibration file"):
        read_calibration(tmp_path / "bad.json")


def _reading(workload: str, minutes: int) -> MonitorReading:
    return MonitorReading(
        workload=workload,
        taken_at=datetime(2026, 12, 3, 12, tzinfo=UTC) + timedelta(minutes=minutes),
        window_s=3600.0,
        covered_s=1800.0,
        source="http://prometheus:9090",
        figures=(
            MonitorFigure("compute_usd_per_month", 30.5, "measured", "compute_usd / hours x 730"),
            MonitorFigure("gpu_utilization", None, "measured", "", "no DCGM GPU metrics"),
        ),
        plan_gaps=(PlanGap("compute_usd_per_month", 30.5, 26.2),),
        plan_option="int8-dynamic on t3.medium",
        flags=("spot interruptions 9% of nodes a month",),
        notes=("no Kubernetes metrics",),
    )


def test_readings_are_kept_per_workload_oldest_first(store: Store) -> None:
    later, earlier, other = _reading("a", 10), _reading("a", 0), _reading("b", 5)
    for reading in (later, earlier, other):
        store.record_monitor_reading(reading)
    assert store.monitor_readings("a") == [earlier, later]
    assert store.monitor_readings() == [earlier, other, later]
    gap = store.monitor_readings("a")[0].plan_gaps[0].gap_fraction
    assert gap == pytest.approx(30.5 / 26.2 - 1)


def test_the_migrated_table_is_the_one_the_store_reads(store_url: str) -> None:
    with Store.open(store_url):
        pass
    engine = sa.create_engine(store_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        columns = {c["name"] for c in sa.inspect(engine).get_columns("monitor_reading")}
    finally:
        engine.dispose()
    assert columns == {c.name for c in _monitor_readings.columns}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["monitor"], "give --prometheus URL"),
        (["monitor", "--prometheus", "http://127.0.0.1:1", "--window", "1 hour"], "--window:"),
        (["monitor", "--prometheus", "http://127.0.0.1:1", "--workload", "Bad_Name"], "--workload"),
        (
            ["monitor", "--prometheus", "http://127.0.0.1:1", "--workload", "w"],
            "cannot reach Prometheus",
        ),
        (["monitor", "rules", "--out", "r.yaml"], "give --workload NAME"),
    ],
)
def test_the_cli_refuses_in_one_line_with_exit_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = run(*args, home=tmp_path / "ws", check=False)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
