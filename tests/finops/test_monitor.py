"""`mlcost monitor` against a real Prometheus scraping a real `mlcost serve` under load.

Prometheus scrapes the server as two jobs: "sentiment-api", whose pod a fake cluster's
metrics (kube-state-metrics, cAdvisor, DCGM, Karpenter) describe on a t3.medium spot node,
and "bare-api", a server outside Kubernetes. Every figure is checked against what the
server's own /metrics counted, the fake cluster's inputs and the plan's file.
"""

from __future__ import annotations

import json
import math
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from mlcost.catalog import load_shipped
from mlcost.cli.plan import plan as plan_command
from mlcost.core import MonitorReading, Plan, Store, Workspace, from_jsonable
from mlcost.deploy import kubernetes_option
from mlcost.finops import Prometheus, dashboard, dashboard_queries

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "serve"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plan"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibration_file import write_calibration
from fake_cluster import FakeCluster
from planning_inputs import seed_workspace
from prometheus_process import PrometheusProcess, require_tool
from server_process import ServerProcess, make_workspace
from test_cli import run

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

WORKLOAD, BARE = "sentiment-api", "bare-api"  # the plan's name, and a server outside Kubernetes
POD = f"{WORKLOAD}-5d8f7c9b4-x2x7q"
PRICE_USD_PER_HOUR = 3.6
REQUESTS = 300
TEXTS = ["what a great day", "the bus was late again"]
CALIBRATED_RATE = 0.2  # at threshold 1, where every text escalates: the live rate drifts
# OpenCost's published default prices (configs/default.json) per vCPU-, GiB-hour.
OPENCOST_CPU, OPENCOST_GIB = 0.031611, 0.004237


@dataclass
class Live:
    home: Path
    plan_file: Path
    cascade: Path
    prometheus: str
    metrics: str  # the server's /metrics after the load
    cluster: FakeCluster


def _load(url: str) -> None:
    """REQUESTS predict requests of two texts each, one after another, from a thread."""
    failures: list[int] = []

    def send() -> None:
        with httpx.Client(timeout=10) as client:
            for _ in range(REQUESTS):
                reply = client.post(f"{url}/v1/predict", json={"texts": TEXTS})
                if reply.status_code != 200:
                    failures.append(reply.status_code)

    thread = threading.Thread(target=send)
    thread.start()
    thread.join(60)
    assert not thread.is_alive() and not failures, failures


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    require_tool("prometheus")
    folder = tmp_path_factory.mktemp("monitor")
    home = make_workspace(folder / "ws")
    plan_file = folder / "plan.json"
    plan_command(
        ROOT / "examples" / "workload.yaml", out=plan_file, home=seed_workspace(folder / "plan")
    )
    cascade = write_calibration(
        home / "cascade.json", threshold=1.0, escalation_rate=CALIBRATED_RATE, rows=500
    )
    batching = {"max_batch_size": 16, "max_queue_delay_ms": 1.0}
    config = {
        "tiers": [
            {"name": name, "variant": name, "threads": 1, "batching": batching}
            for name in ("student", "teacher")
        ],
        "cascade": {"threshold_file": "cascade.json"},
        "machine": {"price_usd_per_hour": PRICE_USD_PER_HOUR},
        "shutdown": {"drain_delay_s": 0.5},
    }
    with ServerProcess(home, config) as server, FakeCluster(POD) as cluster:
        target = server.url.removeprefix("http://")
        jobs = {WORKLOAD: [target], BARE: [target], "cluster": [cluster.url]}
        with PrometheusProcess(folder / "prometheus", jobs) as prometheus:
            for job in jobs:  # counters seen at 0 before the load: all of it is counted
                prometheus.wait_for(f'count_over_time(up{{job="{job}"}}[1m])', 5)
            _load(server.url)
            cluster.spot_interruptions = 1
            time.sleep(4)  # the last requests scraped by every job
            metrics = httpx.get(f"{server.url}/metrics").text
            yield Live(home, plan_file, cascade, prometheus.url, metrics, cluster)


def _counter(metrics: str, name: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith(name) and not line.startswith("#")
    )


def _histogram_quantile(metrics: str, name: str, q: float) -> float:
    """Prometheus' histogram_quantile over the server's own buckets (linear within a bucket)."""
    buckets = sorted(
        (float(line.split('le="')[1].split('"')[0]), float(line.rsplit(" ", 1)[1]))
        for line in metrics.splitlines()
        if line.startswith(f"{name}_bucket")
    )
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for upper, count in buckets:
        if count >= rank:
            if math.isinf(upper):
                return lower
            return lower + (upper - lower) * (rank - below) / (count - below)
        lower, below = upper, count
    raise AssertionError("no bucket reaches the rank")


def _monitor(live: Live, *args: str) -> dict[str, Any]:
    result = run(
        "monitor",
        "--prometheus",
        live.prometheus,
        "--window",
        "2m",
        *args,
        "--json",
        home=live.home,
    )
    reading: dict[str, Any] = json.loads(result.stdout)
    return reading


def _figures(reading: dict[str, Any]) -> dict[str, float | None]:
    return {f["name"]: f["value"] for f in reading["figures"]}


def _close(actual: float | None, expected: float, rel: float) -> bool:
    return actual is not None and math.isclose(actual, expected, rel_tol=rel)


def test_monitor_reads_cost_latency_and_plan_gaps_on_kubernetes(live: Live) -> None:
    reading = _monitor(
        live,
        "--workload",
        WORKLOAD,
        "--plan",
        str(live.plan_file),
        "--cascade",
        str(live.cascade),
        "--record",
    )
    figures, covered_h = _figures(reading), reading["covered_s"] / 3600
    requests = _counter(live.metrics, "mlcost_request_duration_seconds_count")
    predictions = _counter(live.metrics, "mlcost_predictions_total")
    assert requests == REQUESTS and predictions == 2 * REQUESTS
    # Counters seen at 0 and read at the last scrape: Prometheus' growth is the server's count.
    assert figures["requests"] == pytest.approx(requests, abs=0.5)
    assert figures["predictions"] == pytest.approx(predictions, abs=0.5)
    assert figures["requests_per_s"] == pytest.approx(requests / reading["covered_s"], rel=1e-6)
    p99_ms = _histogram_quantile(live.metrics, "mlcost_request_duration_seconds", 0.99) * 1000
    assert figures["latency_ms_p99"] == pytest.approx(p99_ms, rel=1e-6)
    assert figures["replicas_mean"] == pytest.approx(1.0, abs=0.05)

    # OpenCost's rule on the fake node: the node's spot price split 31611 : 4237 per vCPU : GiB.
    offer = load_shipped().offer("t3.medium", region="us-east-1", provider="aws")
    assert offer is not None and offer.spot_usd_per_hour is not None
    price = offer.spot_usd_per_hour
    weighted = offer.vcpus * OPENCOST_CPU + offer.memory_gib * OPENCOST_GIB
    cpu_usd, gib_usd = price * OPENCOST_CPU / weighted, price * OPENCOST_GIB / weighted
    c = live.cluster
    ours = (
        max(c.serving_request_cpu, c.serving_cpu_cores) * cpu_usd
        + max(c.serving_request_gib, c.serving_working_set_gib) * gib_usd
    )
    others = c.other_request_cpu * cpu_usd + c.other_request_gib * gib_usd
    idle = price - ours - others
    compute = ours + idle * ours / (ours + others)
    # The node's hours as Prometheus saw them: about the span (a scrape or two less at its start).
    node_hours = figures["nodes_usd"] / price
    assert node_hours == pytest.approx(covered_h, rel=0.2)
    assert _close(figures["allocated_usd"], ours * node_hours, 0.06), (figures, ours * node_hours)
    assert _close(figures["idle_usd"], idle * node_hours, 0.06)
    assert _close(figures["compute_usd"], compute * node_hours, 0.06)
    assert figures["compute_usd_per_month"] == pytest.approx(
        figures["compute_usd"] / covered_h * 730, rel=1e-9
    )
    assert figures["compute_usd_per_1k_predictions"] == pytest.approx(
        figures["compute_usd"] / predictions * 1000, rel=1e-9
    )
    assert figures["serve_meter_usd"] == pytest.approx(PRICE_USD_PER_HOUR * covered_h, rel=0.1)

    assert figures["gpu_utilization"] == pytest.approx(c.gpu_util_percent / 100)
    # Prometheus extrapolates a counter's growth to the reading's time, up to a scrape past
    # the cluster's last sample: over a few seconds, that is a few tenths of one interruption.
    assert figures["spot_interruptions"] == pytest.approx(1.0, rel=0.2)
    assert _close(figures["spot_interruptions_per_node_month"], 730 / covered_h, 0.2)
    assert figures["escalation_rate"] == 1.0 and figures["cascade_threshold"] == 1.0
    assert figures["escalation_rate_calibrated"] == CALIBRATED_RATE
    basis = {f["name"]: f["basis"] for f in reading["figures"]}
    assert basis["escalation_rate_calibrated"] == "estimated" and basis["idle_usd"] == "measured"
    flags = " | ".join(reading["flags"])
    for phrase in ("GPU utilization 20%", "spot interruptions", "cascade drift"):
        assert phrase in flags, flags
    assert any("DCGM_FI_DEV_GPU_UTIL" in note for note in reading["notes"])

    plan = from_jsonable(Plan, json.loads(live.plan_file.read_text()))
    option = kubernetes_option(plan)
    assert plan.winner.platform == "serverless" and reading["plan_option"] == option.label
    gaps = {g["name"]: g for g in reading["plan_gaps"]}
    assert gaps["latency_ms_p99"]["planned"] == option.latency_ms_p99
    assert gaps["replicas_mean"]["planned"] == option.replicas_mean
    monthly = gaps["compute_usd_per_month"]
    assert monthly["planned"] == option.cost.compute_usd_per_month
    assert monthly["actual"] == figures["compute_usd_per_month"]
    monthly_requests = plan.requests * 730 / (plan.horizon_days * 24)
    per_1k = gaps["compute_usd_per_1k_predictions"]["planned"]
    assert per_1k == pytest.approx(option.cost.compute_usd_per_month / monthly_requests * 1000)

    with Store.open(Workspace.resolve(live.home).db_url) as store:
        recorded = store.monitor_readings(WORKLOAD)
    assert len(recorded) == 1
    assert recorded[0] == from_jsonable(MonitorReading, reading)
    assert recorded[0].plan_gaps[0].gap_fraction is not None


def test_a_server_outside_kubernetes_says_what_is_absent_and_uses_its_own_meter(
    live: Live,
) -> None:
    reading = _monitor(live, "--workload", BARE)
    figures = _figures(reading)
    assert "allocated_usd" not in figures and "gpu_utilization" not in figures
    notes = " | ".join(reading["notes"])
    assert f"no Kubernetes metrics for pods {BARE}-*" in notes
    assert "no DCGM GPU metrics" in notes
    # The meter grows by the machine's price every second, whatever the load.
    assert figures["compute_usd_per_month"] == pytest.approx(PRICE_USD_PER_HOUR * 730, rel=0.03)
    assert figures["compute_usd_per_1k_predictions"] == pytest.approx(
        figures["compute_usd"] / _counter(live.metrics, "mlcost_predictions_total") * 1000
    )
    table = run(
        "monitor",
        "--prometheus",
        live.prometheus,
        "--workload",
        BARE,
        "--window",
        "2m",
        home=live.home,
    ).stdout
    assert "note: no Kubernetes metrics for pods bare-api-*" in table
    assert "compute_usd_per_month" in table and "measured" in table


def test_every_dashboard_query_runs_on_prometheus(live: Live) -> None:
    plan = from_jsonable(Plan, json.loads(live.plan_file.read_text()))
    with Prometheus(live.prometheus) as client:
        for expr in dashboard_queries(dashboard(WORKLOAD, plan=plan)):
            promql = expr.replace("$workload", WORKLOAD).replace("$__rate_interval", "1m")
            client.query(promql)  # PrometheusError if Prometheus rejects it
        requests_per_s = dashboard(WORKLOAD)["panels"][0]["targets"][0]["expr"]
        rate = client.query(
            requests_per_s.replace("$workload", WORKLOAD).replace("$__rate_interval", "1m")
        )
    assert rate and rate[0].value > 0


def test_an_unknown_workload_is_one_line_naming_it(live: Live) -> None:
    unknown = run(
        "monitor",
        "--prometheus",
        live.prometheus,
        "--workload",
        "nothing-here",
        home=live.home,
        check=False,
    )
    assert unknown.returncode == 2
    assert "has no target of job 'nothing-here'" in unknown.stderr
    assert len(unknown.stderr.strip().splitlines()) == 1
