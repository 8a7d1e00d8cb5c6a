"""workload.yaml: the reference file loads, defaults are the documented ones, and every bad
input is one line that names the file, the line, the field, what is wrong and what to do."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest

from mlcost.core import PROVIDERS, MlcostError, PlanError, Provider, Slo, Traffic, WeeklyPattern
from mlcost.plan._workload import load_workload

ROOT = Path(__file__).resolve().parents[2]

# Line numbers in the expected messages below count from here.
GOOD = """\
traffic:
  requests_per_day: 1000000
  daily_shape: consumer
  payload_in_kb: 2
slo:
  latency_percentile: p99
  latency_ms: 150
  max_accuracy_drop_points: 1.0
constraints:
  providers: [aws]
  regions: [us-east-1]
  max_spot_share: 0.5
current:
  provider: aws
  region: us-east-1
  instance_type: g4dn.xlarge
  count: 5
horizon_days: 30
"""


def _write(tmp_path: Path, text: str, name: str = "workload.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _error(tmp_path: Path, text: str) -> str:
    path = _write(tmp_path, text)
    with pytest.raises(PlanError) as info:
        load_workload(path)
    return str(info.value).replace(str(path), "workload.yaml")


def test_the_reference_workload_loads() -> None:
    workload = load_workload(ROOT / "examples" / "workload.yaml")
    assert workload.traffic.requests_per_day == 1_000_000
    assert workload.traffic.daily_shape == "consumer"
    assert workload.traffic.payload_in_bytes == 2000
    assert (workload.slo.latency_percentile, workload.slo.latency_ms) == (99.0, 150.0)
    assert workload.slo.accuracy_floor_for(0.91) == pytest.approx(0.90)
    assert workload.constraints.providers == ("aws",)
    assert workload.constraints.regions == ("us-east-1",)
    current = workload.current
    assert current is not None
    assert (current.count, current.instance_type, current.pricing, current.scaling) == (
        5,
        "g4dn.xlarge",
        "on-demand",
        "fixed",
    )
    assert (current.provider, current.region) == ("aws", "us-east-1")
    assert workload.horizon_days == 30


def test_a_minimal_workload_gets_the_documented_defaults(tmp_path: Path) -> None:
    path = _write(tmp_path, "traffic: {requests_per_day: 1e6}\nslo: {latency_ms: 150}\n")
    workload = load_workload(path)
    assert workload.traffic.requests_per_day == 1_000_000  # PyYAML reads 1e6 as text
    assert workload.traffic.daily_shape == "flat"
    assert workload.traffic.weekly_factors() == (1.0,) * 7
    assert (workload.traffic.payload_in_bytes, workload.traffic.payload_out_bytes) == (1000, 200)
    assert workload.slo.latency_percentile == 99.0
    assert workload.slo.accuracy_floor_for(0.90) == pytest.approx(0.89)
    assert workload.constraints.providers == PROVIDERS
    assert workload.constraints.regions == workload.constraints.accelerators == ()
    assert workload.constraints.min_replicas == 2
    assert workload.constraints.max_spot_share == 0.0
    assert workload.constraints.availability_target is None
    assert workload.data_location is None and workload.current is None
    assert workload.horizon_days == 30


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            "latency_ms: 150",
            "latency_ms: fast",
            "workload.yaml:7: slo.latency_ms: got 'fast'; give a number",
            id="wrong-type",
        ),
        pytest.param(
            "requests_per_day: 1000000",
            "requests_per_day: -5",
            "workload.yaml:2: traffic.requests_per_day: got -5; give a number greater than 0",
            id="out-of-range",
        ),
        pytest.param(
            "max_spot_share: 0.5",
            "max_spot_share: 50",
            "workload.yaml:12: constraints.max_spot_share: got 50; give a number less than or equal to 1",
            id="share-as-percent",
        ),
        pytest.param(
            "  daily_shape: consumer",
            "  daily_shap: consumer",
            "workload.yaml:3: traffic.daily_shap: unknown key; did you mean daily_shape?",
            id="unknown-key-with-suggestion",
        ),
        pytest.param(
            "horizon_days: 30",
            "zzz: 30",
            "workload.yaml:18: zzz: unknown key; the keys here are traffic, slo, constraints, data_location, current, platform, serving, horizon_days, name",
            id="unknown-key-without-suggestion",
        ),
        pytest.param(
            "  instance_type: g4dn.xlarge\n",
            "",
            "workload.yaml:13: current.instance_type: required, but missing; add `instance_type: g4dn.xlarge`",
            id="missing-required",
        ),
        pytest.param(
            "  providers: [aws]",
            "  providers: [aws, gpc]",
            "workload.yaml:10: constraints.providers.1: got 'gpc'; give 'aws', 'gcp' or 'azure' (did you mean gcp?)",
            id="bad-literal-in-a-list",
        ),
        pytest.param(
            "daily_shape: consumer",
            "daily_shape: consumr",
            "workload.yaml:3: traffic.daily_shape: got 'consumr'; give 'flat', 'business-hours' or 'consumer' (did you mean consumer?)",
            id="bad-shape-name",
        ),
        pytest.param(
            "  count: 5",
            "  count: yes",
            "workload.yaml:17: current.count: got true; give a number",
            id="yaml-boolean-for-a-number",
        ),
        pytest.param(
            "  count: 5",
            "  count: 2.5",
            "workload.yaml:17: current.count: got 2.5 machines in a fixed fleet; give a whole number, or scaling: autoscaled for an average",
            id="fractional-fixed-fleet",
        ),
        pytest.param(
            "  max_accuracy_drop_points: 1.0",
            "  max_accuracy_drop_points: 1.0\n  accuracy_floor: 0.85",
            "workload.yaml:8: slo.max_accuracy_drop_points: accuracy_floor is given too; give an absolute floor or a drop below the baseline",
            id="two-accuracy-floors-blame-one-line",
        ),
        pytest.param(
            "  payload_in_kb: 2",
            "  payload_in_kb: big",
            "workload.yaml:4: traffic.payload_in_kb: got 'big'; give a size in KB >= 0 (1 KB = 1,000 bytes)",
            id="bad-kilobytes",
        ),
        pytest.param(
            "  payload_in_kb: 2",
            "  weekly: [1, 1, 1, 1, x, 0.5, 0.5]",
            "workload.yaml:4: traffic.weekly.4: got 'x'; give a number",
            id="bad-item-in-seven-weights",
        ),
        pytest.param(
            "  payload_in_kb: 2",
            "  hourly_weights: [1, 2, 3]",
            "workload.yaml:4: traffic.hourly_weights: got 3 weights; give exactly 24, the request rate at 00:00, 01:00, ... 23:00",
            id="wrong-number-of-hourly-weights",
        ),
        pytest.param(
            "horizon_days: 30",
            "platform:\n  credit_mode: unlimted\nhorizon_days: 30",
            "workload.yaml:19: platform.credit_mode: got 'unlimted'; give 'unlimited' or 'standard' (did you mean unlimited?)",
            id="bad-credit-mode",
        ),
        pytest.param(
            "horizon_days: 30",
            "platform:\n  load_balancing: roundrobin\nhorizon_days: 30",
            "workload.yaml:19: platform.load_balancing: got 'roundrobin'; give 'random', 'round-robin' or 'least-outstanding' (did you mean round-robin?)",
            id="bad-balancing",
        ),
        pytest.param(
            "horizon_days: 30",
            "platform:\n  allowed: [kubernetes, lambda]\nhorizon_days: 30",
            "workload.yaml:19: platform.allowed.1: got 'lambda'; give 'kubernetes', 'vm-group' or 'serverless'",
            id="bad-platform",
        ),
        pytest.param(
            "horizon_days: 30",
            "platform:\n  nat_gateways: -1\nhorizon_days: 30",
            "workload.yaml:19: platform.nat_gateways: got -1; give a number greater than or equal to 0",
            id="bad-nat-gateways",
        ),
        pytest.param(
            "horizon_days: 30",
            "platform:\n  free_tier: maybe\nhorizon_days: 30",
            "workload.yaml:19: platform.free_tier: got 'maybe'; give true or false",
            id="bad-free-tier",
        ),
        pytest.param(
            "latency_ms: 150",
            "latency_ms: 150\n  latency_ms: 100",
            "workload.yaml:8: slo.latency_ms: duplicate key (first on line 7); keep one",
            id="duplicate-key",
        ),
        pytest.param(
            "  latency_ms: 150",
            " latency_ms: 150",
            "workload.yaml:7: not valid YAML: expected <block end>, but found '<block mapping start>' (column 2); check the indentation, colons and quotes here and on the line above",
            id="bad-yaml-indentation",
        ),
        pytest.param(
            "  latency_ms: 150",
            "\tlatency_ms: 150",
            "workload.yaml:7: not valid YAML: found character '\\t' that cannot start any token (column 1); indent with spaces, not tabs",
            id="bad-yaml-tab",
        ),
    ],
)
def test_each_bad_input_names_its_line_field_and_fix(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    assert GOOD.count(old) == 1
    assert _error(tmp_path, GOOD.replace(old, new)) == expected


def test_the_first_problem_by_line_is_reported_with_a_count_of_the_rest(tmp_path: Path) -> None:
    text = GOOD.replace("count: 5", "count: 0").replace("latency_ms: 150", "latency_ms: -1")
    assert _error(tmp_path, text) == (
        "workload.yaml:7: slo.latency_ms: got -1; give a number greater than 0 (+1 more)"
    )


def test_an_empty_file_or_a_list_says_what_the_file_should_be(tmp_path: Path) -> None:
    assert _error(tmp_path, "# nothing yet\n") == (
        "workload.yaml:1: the file is empty; start from examples/workload.yaml"
    )
    assert _error(tmp_path, "- traffic\n") == (
        "workload.yaml:1: top level: got a list; give a mapping (key: value lines)"
    )


def test_traffic_without_volume_or_trace_is_refused(tmp_path: Path) -> None:
    text = "slo: {latency_ms: 150}\ntraffic:\n  daily_shape: consumer\n"
    assert _error(tmp_path, text) == (
        "workload.yaml:2: traffic.requests_per_day: missing; give the average requests per day (e.g. 1000000) or a trace CSV"
    )


def test_a_trace_path_is_taken_from_the_workload_folder(tmp_path: Path) -> None:
    (tmp_path / "traces").mkdir()
    rows = "".join(f"{minute},{minute % 7}\n" for minute in range(1440))
    (tmp_path / "traces" / "day.csv").write_text("minute,count\n" + rows)
    text = GOOD.replace("  daily_shape: consumer\n", "  trace: traces/day.csv\n")
    workload = load_workload(_write(tmp_path, text))
    assert workload.traffic.trace == tmp_path / "traces" / "day.csv"


def test_a_missing_trace_points_at_the_trace_line(tmp_path: Path) -> None:
    text = GOOD.replace("  daily_shape: consumer\n", "  trace: traces/nope.csv\n")
    message = _error(tmp_path, text)
    assert message == (
        f"workload.yaml:3: traffic.trace: no file at {tmp_path}/traces/nope.csv; "
        "give a path relative to the folder of workload.yaml, or an absolute one"
    )


def test_a_bad_trace_line_is_reported_when_the_workload_loads(tmp_path: Path) -> None:
    (tmp_path / "day.csv").write_text("minute,count\n0,5\n1,five\n")
    text = GOOD.replace("  daily_shape: consumer\n", "  trace: day.csv\n")
    with pytest.raises(PlanError) as info:
        load_workload(_write(tmp_path, text))
    assert str(info.value) == (
        f"{tmp_path}/day.csv:3: count 'five' is not a number; give the requests in that minute"
    )


def test_a_trace_with_a_daily_shape_blames_the_shape(tmp_path: Path) -> None:
    text = GOOD.replace("  payload_in_kb: 2\n", "  trace: day.csv\n")
    assert _error(tmp_path, text) == (
        "workload.yaml:3: traffic.daily_shape: a trace carries its own daily and weekly pattern; remove daily_shape or the trace"
    )


def test_an_unreadable_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match=r"nope\.yaml: cannot read the workload: No such file"):
        load_workload(tmp_path / "nope.yaml")
    assert issubclass(PlanError, MlcostError)


def test_values_outside_yaml_follow_the_same_rules() -> None:
    assert Slo(latency_ms=100, accuracy_floor=0.85).accuracy_floor_for(0.99) == 0.85
    assert Slo(latency_ms=100, latency_percentile="p99.9").latency_percentile == 99.9
    assert WeeklyPattern(day_weights=(2, 2, 2, 2, 2, 1, 1)).factors()[5] == pytest.approx(7 / 12)
    assert Traffic(requests_per_day=1, daily_shape="business-hours").weekly_factors()[6] == (
        pytest.approx(7 * 0.25 / 5.5)
    )
    assert get_args(Provider) == PROVIDERS
