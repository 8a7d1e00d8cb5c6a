"""mlcost report and dashboard: every view drawn from a demo-like workspace, offline, labelled."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlcost.cli.deploy import render_command
from mlcost.cli.plan import plan as plan_command
from mlcost.cli.report import report_sources
from mlcost.core import (
    BillingImport,
    BillingLine,
    MonitorFigure,
    MonitorReading,
    Plan,
    PlanGap,
    Store,
    Workspace,
)
from mlcost.plan import arrivals_per_minute
from mlcost.report import (
    SECTIONS,
    Report,
    Sources,
    build_report,
    dashboard_app,
    render_html,
    replay_replicas,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plan"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
from planning_inputs import seed_workspace
from test_cli import MLCOST, run

ROOT = Path(__file__).resolve().parents[2]
WORKLOAD = ROOT / "examples" / "workload.yaml"
TODAY = ROOT / "examples" / "today-k8s"
SCREENSHOT = ROOT / "docs" / "img" / "report.png"
# MLCOST_UPDATE_SCREENSHOT=1 rewrites the README's screenshot; otherwise only a missing one is.
UPDATE_SCREENSHOT = os.environ.get("MLCOST_UPDATE_SCREENSHOT") == "1"


@dataclasses.dataclass(frozen=True)
class Planned:
    home: Path
    plan_file: Path
    k8s: Path
    sources: Sources
    report: Report

    @property
    def plan(self) -> Plan:
        assert self.sources.plan is not None
        return self.sources.plan


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Planned:
    """The reference workload planned on the demo's variants, its manifests rendered, as the
    demo leaves them, and the report of it all."""
    folder = tmp_path_factory.mktemp("report")
    home = seed_workspace(folder / "ws")
    plan_file, k8s = folder / "plan.json", folder / "k8s"
    plan = plan_command(WORKLOAD, out=plan_file, home=home)
    assert plan is not None
    render_command(plan_file, out=k8s)
    _record_actuals(home, plan)
    sources = report_sources(plan_file, WORKLOAD, [k8s, TODAY], home)
    return Planned(home, plan_file, k8s, sources, build_report(sources))


def _bill_line(period: str, service: str, pricing: str, usd: float) -> BillingLine:
    return BillingLine(
        billing_period=period,
        charge_date=dt.date.fromisoformat(f"{period}-01"),
        currency="USD",
        provider="AWS",
        sub_account="123456789012",
        service_name=service,
        service_category="Compute",
        region="us-east-1",
        pricing_category=pricing,
        charge_category="Usage",
        commitment_discount_id=None,
        commitment_discount_status=None,
        resource_id=None,
        instance_type=None,
        consumed_unit="Hours",
        pricing_unit="Hours",
        tags="{}",
        row_count=10,
        billed_cost=usd,
        effective_cost=usd * 0.9,
        list_cost=usd,
        contracted_cost=None,
        consumed_quantity=None,
        pricing_quantity=None,
    )


BILL = (
    _bill_line("2026-10", "Amazon Elastic Compute Cloud", "Standard", 1500.0),
    _bill_line("2026-10", "Amazon Elastic Compute Cloud", "Dynamic", 300.0),
    _bill_line("2026-10", "Amazon Elastic Kubernetes Service", "Standard", 73.0),
    _bill_line("2026-11", "Amazon Elastic Compute Cloud", "Standard", 1400.0),
    _bill_line("2026-11", "AWS Lambda", "Standard", 12.0),
)


def _record_actuals(home: Path, plan: Plan) -> None:
    """What the FinOps commands leave in the store: a monitor reading against the plan's
    winner (replicas 30 % above it, the p99 not read), and a month of an imported bill."""
    winner = plan.winner
    reading = MonitorReading(
        workload=plan.workload,
        taken_at=dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC),
        window_s=3600.0,
        covered_s=3000.0,
        source="http://127.0.0.1:9090",
        figures=(MonitorFigure("replicas_mean", winner.replicas_mean * 1.3, "measured", "up"),),
        plan_gaps=(
            PlanGap("replicas_mean", winner.replicas_mean * 1.3, winner.replicas_mean),
            PlanGap("latency_ms_p99", None, winner.latency_ms_p99),
        ),
        plan_option=winner.label,
    )
    record = BillingImport(
        sha256="0" * 64,
        file_name="focus-2026-11.csv",
        focus_version="1.2",
        row_count=50,
        line_count=len(BILL),
        billing_periods=("2026-10", "2026-11"),
        findings=(),
        imported_at=dt.datetime(2026, 12, 2, tzinfo=dt.UTC),
    )
    with Store.open(Workspace.resolve(home).db_url) as store:
        store.record_monitor_reading(reading)
        store.record_billing_import(record, BILL)


def _inputs(workspace: Planned) -> list[str]:
    """The report's inputs as command-line options: the plan, its workload, its manifests."""
    plan, k8s = str(workspace.plan_file), str(workspace.k8s)
    return ["--plan", plan, "--workload", str(WORKLOAD), "--manifests", k8s]


def _section(report: Report, key: str) -> Any:
    return next(s for s in report.sections if s.key == key)


def test_every_section_is_drawn_or_says_what_to_run(workspace: Planned) -> None:
    report = workspace.report
    keys = [s.key for s in report.sections]
    assert len(keys) == len(SECTIONS) + 1 and keys[-1] == "prices"
    assert len(set(keys)) == len(keys)
    for section in report.sections:
        if section.has_data:
            assert section.takeaway and section.chart_svg.startswith("<svg"), section.key
            assert "<path" in section.chart_svg, section.key
        else:
            assert re.fullmatch(r"no data yet: .+; run mlcost .+", section.missing), section.key
    for section in report.sections:
        assert section.has_data, section.key  # the workspace holds every kind of data


def test_every_figure_is_labelled_measured_or_estimated(workspace: Planned) -> None:
    for section in workspace.report.sections:
        if section.has_data:
            assert section.basis, section.key
            for line in section.basis:
                assert line.startswith(("measured: ", "estimated: ")), line
    pareto = _section(workspace.report, "pareto")
    assert any(line.startswith("measured: accuracy") for line in pareto.basis)
    assert workspace.report.estimated.startswith("ESTIMATED") == workspace.plan.is_estimated


def test_every_price_is_listed_with_its_date(workspace: Planned) -> None:
    report = workspace.report
    listed = {(row[1], row[2], row[4]) for row in _section(report, "prices").rows}
    page = render_html(report)
    for section in report.sections:
        for line in section.prices:
            when = str(line.as_of) if line.as_of else "undated"
            assert (f"${line.usd_per_unit:,.6g} per {line.unit}", when, line.source) in listed
        if section.prices:
            assert f"{len(section.prices)} prices behind these figures, dated " in page
    winner_prices = {line.usd_per_unit for line in workspace.plan.winner.cost.lines}
    assert winner_prices <= {line.usd_per_unit for line in _section(report, "waterfall").prices}


def test_takeaways_are_computed_from_the_data(workspace: Planned) -> None:
    plan = workspace.plan
    first, last = plan.waterfall[0], plan.waterfall[-1]
    waterfall = _section(workspace.report, "waterfall")
    assert f"${first.monthly_usd:,.2f}" in waterfall.takeaway
    assert f"${last.monthly_usd:,.2f}" in waterfall.takeaway
    cheaper = dataclasses.replace(
        last, monthly_usd=last.monthly_usd / 2, saved_usd=last.saved_usd + last.monthly_usd / 2
    )
    halved = dataclasses.replace(plan, waterfall=(*plan.waterfall[:-1], cheaper))
    again = build_report(dataclasses.replace(workspace.sources, plan=halved))
    assert f"${cheaper.monthly_usd:,.2f}" in _section(again, "waterfall").takeaway
    cost = _section(workspace.report, "cost-per-1k")
    assert f"for ${plan.usd_per_1k_predictions:.3g};" in cost.takeaway


def test_the_replayed_day_is_the_plans_month(workspace: Planned) -> None:
    """The day is replayed from what the plan keeps; over the month it is the plan's fleet."""
    workload = workspace.sources.workload
    assert workload is not None
    arrivals = arrivals_per_minute(workload.traffic, horizon_days=workload.horizon_days)
    assert arrivals.sum() == pytest.approx(workspace.plan.requests)
    machines = [o for o in workspace.plan.platforms if o.platform != "serverless"]
    assert machines
    for option in machines:
        replicas = replay_replicas(arrivals, option)
        assert replicas.mean() == pytest.approx(option.replicas_mean, rel=1e-9)
        assert (replicas.min(), replicas.max()) == (option.min_replicas, option.replicas_max)


def test_the_actuals_are_drawn_from_the_store(workspace: Planned) -> None:
    report = workspace.report
    actual = _section(report, "plan-vs-actual")
    assert "replicas_mean is +30% off the plan" in actual.takeaway
    assert "0 of 1 figures read" in actual.takeaway  # the p99 was not read: not counted
    assert actual.basis[0].startswith("measured: each actual figure read from http://127.0.0.1")
    billing = _section(report, "billing")
    total = sum(line.effective_cost for line in BILL)
    assert f"{total:,.2f} USD effective cost over 2 months" in billing.takeaway
    ec2 = sum(line.effective_cost for line in BILL if line.service_name.endswith("Cloud"))
    assert f"Amazon Elastic Compute Cloud is {ec2 / total:.0%} of it" in billing.takeaway
    assert {row[:3] for row in billing.rows} == {
        (line.billing_period, line.service_name, line.pricing_category) for line in BILL
    }


def test_carbon_is_the_plans_estimate_per_option(workspace: Planned) -> None:
    carbon = _section(workspace.report, "carbon")
    winner = workspace.plan.winner.carbon
    assert winner is not None
    assert f"The winner emits {winner.kg_co2e:,.2f} kgCO2e a month" in carbon.takeaway
    assert all(line.startswith("estimated: ") for line in carbon.basis)
    emitted = [float(row[2].replace(",", "")) for row in carbon.rows]
    assert emitted == sorted(emitted)  # least-emitting first
    assert f"{winner.kg_co2e:,.2f}" in {row[2] for row in carbon.rows}


def test_a_workspace_without_a_plan_gets_panels_not_errors(tmp_path: Path) -> None:
    report = build_report(Sources(plan=None, workload=None))
    assert not any(section.has_data for section in report.sections)
    page = render_html(report)
    for section in report.sections:
        assert section.missing in page.replace("&#x27;", "'")
    assert "run mlcost plan workload.yaml" in page


def test_the_page_is_self_contained_and_follows_the_colour_scheme(workspace: Planned) -> None:
    page = render_html(workspace.report)
    assert not re.search(r"""\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert not re.search(r"<script|<link[^>]+stylesheet|@import|url\(\s*['\"]?https?:", page, re.I)
    assert "prefers-color-scheme: dark" in page and "@media print" in page
    svgs = re.findall(r"<svg.*?</svg>", page, re.S)
    assert len(svgs) == sum(s.has_data for s in workspace.report.sections)
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), "chart ids collide"
    for svg in svgs:
        assert "#010203" not in svg and "currentColor" in svg  # text follows the page colour
        assert 'style="fill: #ffffff"' not in svg  # transparent: no white plate in a dark viewer


def test_mlcost_report_writes_the_file_and_prints_its_path(
    workspace: Planned, tmp_path: Path
) -> None:
    out = tmp_path / "out" / "report.html"
    result = run("report", "--out", str(out), *_inputs(workspace), home=workspace.home)
    assert f"report written to {out}" in result.stdout.replace("\n", "")
    page = out.read_text(encoding="utf-8")
    assert 'data-section="audit" data-has-data="true"' in page
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]  # no temp file left


def test_the_dashboard_draws_each_page_again_from_the_store(workspace: Planned) -> None:
    from fastapi.testclient import TestClient

    reads: list[int] = []

    def read() -> Sources:
        reads.append(1)
        return workspace.sources

    client = TestClient(dashboard_app(read))
    whole = client.get("/")
    assert whole.status_code == 200 and 'http-equiv="refresh"' in whole.text
    assert all(f'id="{s.key}"' in whole.text for s in workspace.report.sections)
    one = client.get("/sections/pareto")
    assert one.status_code == 200 and 'id="pareto"' in one.text and 'id="audit"' not in one.text
    missing = client.get("/sections/nope")
    assert missing.status_code == 404 and "pareto" in missing.text
    assert len(reads) == 3


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def dashboard(workspace: Planned) -> Iterator[str]:
    """`mlcost dashboard` on a free port, as a user starts it; its URL once it answers."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("MLCOST_DB_URL", "MLCOST_DEBUG")}
    process = subprocess.Popen(
        [
            MLCOST,
            "--home",
            str(workspace.home),
            "dashboard",
            "--port",
            str(port),
            *_inputs(workspace),
            "--manifests",
            str(TODAY),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url, timeout=10) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "the dashboard did not answer in 30 s"
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _browser() -> Any:
    """Headless Debian Chromium through selenium, keeping the console's messages."""
    missing = [name for name in ("chromium", "chromedriver") if shutil.which(name) is None]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not installed; run scripts/ensure-tools.sh")
    webdriver = pytest.importorskip("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = str(shutil.which("chromium"))
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--window-size=1280,2000",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = webdriver.ChromeService(executable_path=str(shutil.which("chromedriver")))
    return webdriver.Chrome(service=service, options=options)


# Each chart's SVG: how many shapes it draws and the size it is laid out at.
_CHARTS_JS = """
return Array.from(document.querySelectorAll('figure.chart svg')).map(svg => {
  const box = svg.getBoundingClientRect();
  return {key: svg.dataset.chart, shapes: svg.querySelectorAll('path, rect').length,
          width: box.width, height: box.height};
});
"""


def _check_page(driver: Any, url: str, expected: set[str]) -> None:
    driver.get(url)
    charts = driver.execute_script(_CHARTS_JS)
    assert {chart["key"] for chart in charts} == expected
    for chart in charts:
        assert chart["shapes"] > 10 and chart["width"] > 300 and chart["height"] > 100, chart
    errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == [], errors


@pytest.mark.slow
def test_every_chart_renders_in_chromium(
    workspace: Planned, dashboard: str, tmp_path: Path
) -> None:
    """The live dashboard and the written file, in a real browser: every chart drawn, no
    console error; the dashboard's first screen is the README's screenshot."""
    expected = {s.key for s in workspace.report.sections if s.chart_svg}
    report_file = tmp_path / "report.html"
    report_file.write_text(render_html(workspace.report), encoding="utf-8")
    driver = _browser()
    try:
        _check_page(driver, dashboard, expected)
        if UPDATE_SCREENSHOT or not SCREENSHOT.exists():
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            assert driver.save_screenshot(str(SCREENSHOT))
        _check_page(driver, report_file.as_uri(), expected)
    finally:
        driver.quit()
