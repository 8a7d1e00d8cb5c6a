"""mlcost billing: FOCUS exports into the store, checked, summarized, priced per prediction, exported.

Every figure is checked against the sample read independently with the csv module, not
against numbers written into the test.
"""

from __future__ import annotations

import csv
import gzip
import json
import shutil
import sys
from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from mlcost.catalog import load_shipped
from mlcost.cli import main
from mlcost.core import BillingError, Plan, Store, Workspace, from_jsonable
from mlcost.finops import (
    BillingSummary,
    import_billing_files,
    read_request_counts,
    summarize_billing,
    unit_costs,
    validate_focus_file,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plan"))
from planning_inputs import seed_workspace

ROOT = Path(__file__).resolve().parents[2]
FOCUS = ROOT.parent / "shared" / "data" / "focus"
SAMPLE = FOCUS / "focus-1.0-sample.csv"
EXAMPLES = FOCUS / "spec-examples"
pytestmark = pytest.mark.skipif(not SAMPLE.is_file(), reason=f"{SAMPLE} not found")


def _rows(path: Path = SAMPLE) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _number(text: str) -> float:
    return 0.0 if text in ("", "NULL", "null") else float(text)


def _by(rows: list[dict[str, str]], *columns: str, month: str = "2024-09") -> dict[str, float]:
    """EffectiveCost per value of the first of ``columns`` that is set, over ``month``."""
    sums: dict[str, float] = defaultdict(float)
    for row in rows:
        if row["BillingPeriodStart"].startswith(month):
            keys = [row[c] for c in columns if row[c] not in ("", "NULL")]
            sums[keys[0] if keys else "(none)"] += _number(row["EffectiveCost"])
    return dict(sums)


def _store(folder: Path) -> Store:
    return Store.open(f"sqlite:///{folder / 'mlcost.db'}")


def _summary(store: Store, **options: object) -> BillingSummary:
    return summarize_billing(
        store.billing_lines(), store.billing_imports(), load_shipped(), top=1000, **options
    )  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    with _store(tmp_path_factory.mktemp("billing")) as store:
        import_billing_files(store, [SAMPLE])
        yield store


def test_the_sample_summarizes_as_an_independent_read_of_it(sample_store: Store) -> None:
    rows = _rows()
    summary = _summary(
        sample_store, month="2024-09", breakdowns=("provider", "service-category", "region")
    )
    september = [r for r in rows if r["BillingPeriodStart"].startswith("2024-09")]
    assert summary.row_count == len(september)
    assert summary.effective_cost == pytest.approx(
        sum(_number(r["EffectiveCost"]) for r in september)
    )
    assert summary.billed_cost == pytest.approx(sum(_number(r["BilledCost"]) for r in september))
    assert summary.list_cost == pytest.approx(sum(_number(r["ListCost"]) for r in september))
    for dimension, columns in (
        ("provider", ("ProviderName",)),
        ("service-category", ("ServiceCategory",)),
        ("region", ("RegionId", "RegionName")),  # Oracle's rows name only the region
    ):
        got = {s.key: s.effective_cost for s in summary.breakdowns[dimension]}
        assert got == pytest.approx(_by(rows, *columns)), dimension
    assert summary.basis.startswith("measured")


def test_ml_spend_is_accelerator_instances_and_the_ml_category(sample_store: Store) -> None:
    september = [r for r in _rows() if r["BillingPeriodStart"].startswith("2024-09")]
    gpu = [r for r in september if "g5." in r["ChargeDescription"]]
    ml = [r for r in september if r["ServiceCategory"] == "AI and Machine Learning"]
    summary = _summary(sample_store, month="2024-09")
    reasons = {s.key: s for s in summary.ml.by_reason}
    assert reasons["accelerator instance g5.4xlarge"].row_count == len(gpu)
    assert summary.ml.effective_cost == pytest.approx(
        sum(_number(r["EffectiveCost"]) for r in gpu + ml)
    )


def test_pricing_shares_and_discounts_follow_the_bill(sample_store: Store) -> None:
    rows = _rows()
    summary = _summary(sample_store, month="2024-09")
    assert {s.key: s.effective_cost for s in summary.pricing} == pytest.approx(
        _by(rows, "PricingCategory")
    )
    assert summary.negotiated_saving == pytest.approx(summary.list_cost - summary.contracted_cost)
    # The sample's four Savings Plan rows are all "Used": nothing of the commitment idled.
    assert summary.commitment.utilization == 1.0
    assert [m.billing_period for m in summary.trend] == ["2024-09", "2024-10"]


@pytest.mark.parametrize(
    ("example", "utilization"),
    [
        (
            "commitment_discount_flexibility/one_hundred_percent_utilization_with_commitment_discount_flexibility_with_2_resources.csv",
            1.0,
        ),
        (
            "commitment_discount_flexibility/zero_percent_utilization_without_commitment_discount_flexibility.csv",
            0.0,
        ),
        ("commitment_discount_scenarios/commitment_discount_usage_scenario_3.csv", 0.75),
    ],
)
def test_commitment_utilization_matches_the_spec_examples(
    tmp_path: Path, example: str, utilization: float
) -> None:
    with _store(tmp_path) as store:
        import_billing_files(store, [EXAMPLES / example])
        assert _summary(store).commitment.utilization == pytest.approx(utilization)


def test_reimporting_a_file_changes_nothing_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "ws"
    copy = tmp_path / "renamed.csv"
    shutil.copy(SAMPLE, copy)
    assert main(["billing", "import", str(SAMPLE), "--home", str(home)]) == 0
    with Store.open(Workspace.resolve(home).db_url) as store:
        lines = store.billing_lines()
    assert main(["billing", "import", str(copy), "--home", str(home)]) == 0
    assert "nothing changed" in capsys.readouterr().out
    with Store.open(Workspace.resolve(home).db_url) as store:
        assert store.billing_lines() == lines
        assert len(store.billing_imports()) == 1


def test_the_sample_quirks_are_reported(sample_store: Store) -> None:
    rows = _rows()
    (record,) = sample_store.billing_imports()
    findings = {(f.rule, f.column): f for f in record.findings}
    null_tags = [n for n, r in enumerate(rows, 1) if r["Tags"] == "NULL"]
    assert findings["null-as-text", "Tags"].rows == len(null_tags)
    assert findings["null-as-text", "Tags"].example_rows == tuple(null_tags[:5])
    variants = [n for n, r in enumerate(rows, 1) if r["ChargeFrequency"] == "Usage-based"]
    assert findings["case-variant", "ChargeFrequency"].rows == len(variants)
    assert findings["case-variant", "ChargeFrequency"].example_rows == tuple(variants[:5])
    assert "x_Id" in findings["unknown-column", "Id"].message
    priced = [r for r in rows if r["ListUnitPrice"] != "NULL"]
    assert findings["quoted-number", "ListUnitPrice"].rows == len(priced)
    assert ("quoted-number", "BilledCost") not in findings


def test_a_non_focus_csv_is_rejected_naming_its_missing_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    invoice = tmp_path / "invoice.csv"
    invoice.write_text("date,service,amount\n2024-09-01,EC2,12.50\n")
    code = main(["billing", "import", str(invoice), "--home", str(tmp_path / "ws")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1
    assert "not a FOCUS 1.0 billing export" in err
    for column in ("BilledCost", "EffectiveCost", "ChargePeriodStart", "ServiceName"):
        assert column in err


def test_gzip_and_parquet_read_as_the_csv(tmp_path: Path, sample_store: Store) -> None:
    import duckdb

    gz = tmp_path / "sample.csv.gz"
    gz.write_bytes(gzip.compress(SAMPLE.read_bytes()))
    parquet = tmp_path / "sample.parquet"
    duckdb.execute(
        f"COPY (SELECT * FROM read_csv('{SAMPLE}', nullstr = 'NULL')) TO '{parquet}' (FORMAT parquet)"
    )
    expected = sample_store.billing_lines()
    for path in (gz, parquet):
        with _store(tmp_path / path.suffix) as store:
            import_billing_files(store, [path])
            got = store.billing_lines()
        assert len(got) == len(expected), path
        for mine, theirs in zip(got, expected, strict=True):
            assert mine.tags == theirs.tags and mine.instance_type == theirs.instance_type
            assert mine.effective_cost == pytest.approx(theirs.effective_cost), path
            assert mine.charge_date == theirs.charge_date


def _next_month(row: dict[str, str]) -> dict[str, str]:
    """The row a month later, with EC2 spend up by half."""
    shifted = dict(row)
    for column in (
        "BillingPeriodStart",
        "BillingPeriodEnd",
        "ChargePeriodStart",
        "ChargePeriodEnd",
    ):
        year, month = int(row[column][:4]), int(row[column][5:7])
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        day = min(int(row[column][8:10]), 30)
        shifted[column] = f"{year}-{month:02d}-{day:02d}{row[column][10:]}"
    if row["ServiceName"] == "Amazon Elastic Compute Cloud":
        shifted["EffectiveCost"] = str(_number(row["EffectiveCost"]) * 1.5)
    return shifted


def test_a_folder_of_monthly_files_gives_the_trend_and_the_movers(tmp_path: Path) -> None:
    rows = _rows()
    folder = tmp_path / "exports"
    folder.mkdir()
    shutil.copy(SAMPLE, folder / "2024-09.csv")
    later = [_next_month(r) for r in rows]
    with (folder / "2024-10.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(later)
    with _store(tmp_path) as store:
        outcomes = import_billing_files(store, [folder])
        assert [o.is_new for o in outcomes] == [True, True]
        summary = _summary(store, month="2024-10")
    both = rows + later
    october = _by(both, "ServiceName", month="2024-10")
    september = _by(both, "ServiceName", month="2024-09")
    assert [m.effective_cost for m in summary.trend[:2]] == pytest.approx(
        [sum(september.values()), sum(october.values())]
    )
    top = summary.movers[0]
    assert top.key == "Amazon Elastic Compute Cloud"
    assert top.change == pytest.approx(october[top.key] - september[top.key])


@pytest.mark.postgres
def test_a_postgresql_store_holds_the_same_summary(
    postgres_database: str, sample_store: Store
) -> None:
    with Store.open(postgres_database) as store:
        assert import_billing_files(store, [SAMPLE])[0].is_new
        assert not import_billing_files(store, [SAMPLE])[0].is_new
        assert _summary(store) == _summary(sample_store)


def test_cost_per_1000_predictions_is_tagged_spend_over_requests(
    tmp_path: Path, sample_store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    spend: dict[date, float] = defaultdict(float)
    for row in _rows():
        tags = json.loads(row["Tags"]) if row["Tags"] != "NULL" else {}
        if tags.get("application") == "BrightPathMatrix":
            spend[date.fromisoformat(row["ChargePeriodStart"][:10])] += _number(
                row["EffectiveCost"]
            )
    days = sorted(spend)[:3]
    counts = tmp_path / "counts.csv"
    counts.write_text(
        "workload,date,requests\n"
        + "".join(f"BrightPathMatrix,{day},{2000 * (n + 1)}\n" for n, day in enumerate(days))
        + "BrightPathMatrix,2031-01-01,10\n"
    )
    economics = unit_costs(
        sample_store.billing_lines(), read_request_counts(counts), tag_key="application"
    )
    got = {u.day: u.per_1k_predictions for u in economics.days}
    assert got == pytest.approx(
        {day: spend[day] / (2000 * (n + 1)) * 1000 for n, day in enumerate(days)}
    )
    assert economics.days[0].requests_source == "counts.csv:2"
    assert ("BrightPathMatrix", date(2031, 1, 1)) in economics.unbilled
    (period,) = economics.workloads
    assert period.requests == sum(2000 * (n + 1) for n in range(len(days)))

    bad = tmp_path / "bad.csv"
    bad.write_text("workload,date,requests\nBrightPathMatrix,2024-09-01,many\n")
    assert main(["billing", "unit-cost", "--requests", str(bad), "--home", str(tmp_path)]) == 2
    assert f"{bad}:2: requests" in capsys.readouterr().err


def test_the_export_is_focus_that_mlcost_accepts_and_reads_back(tmp_path: Path) -> None:
    from mlcost.cli.plan import plan as plan_command

    home = seed_workspace(tmp_path / "ws")
    plan_file = tmp_path / "plan.json"
    plan_command(ROOT / "examples" / "workload.yaml", out=plan_file, home=home)
    plan = from_jsonable(Plan, json.loads(plan_file.read_text()))
    out = tmp_path / "mlcost-focus.csv"
    args = ["billing", "export", "--out", str(out), "--plan", str(plan_file)]
    assert main([*args, "--month", "2026-11", "--months", "2", "--home", str(home)]) == 0

    report = validate_focus_file(out, focus_version="1.2")
    assert [f for f in report.findings if f.level == "MUST"] == []
    assert main(["billing", "import", str(out), "--home", str(home)]) == 0
    with Store.open(Workspace.resolve(home).db_url) as store:
        summary = _summary(store, month="2026-12")
    assert summary.effective_cost == pytest.approx(plan.winner.cost.total_usd_per_month)
    (workload,) = {s.key for s in summary.breakdowns["tag"] if s.key.startswith("mlcost-workload=")}
    assert workload == f"mlcost-workload={plan.workload}"


def test_a_month_without_lines_is_an_error_naming_the_months(sample_store: Store) -> None:
    with pytest.raises(BillingError, match="imported months: 2024-09, 2024-10"):
        _summary(sample_store, month="2031-01")


def test_request_counts_come_from_prometheus_per_utc_day() -> None:
    """The counter's increase over each day, read at the midnight that ends it."""
    import httpx

    from mlcost.finops import Prometheus, prometheus_request_counts

    asked: list[dict[str, str]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        form = dict(httpx.QueryParams(request.content.decode()))
        asked.append(form)
        values = [[1725235200, "1000.4"], [1725321600, "250"]]  # 2024-09-02, -03 00:00 UTC
        series = [
            {"metric": {"job": "sentiment-api"}, "values": values},
            {"metric": {}, "values": values},  # no workload label: not counted
        ]
        body = {"status": "success", "data": {"resultType": "matrix", "result": series}}
        return httpx.Response(200, json=body)

    with Prometheus("http://prom:9090", transport=httpx.MockTransport(answer)) as server:
        counts = prometheus_request_counts(server, first=date(2024, 9, 1), last=date(2024, 9, 2))
    assert [(c.workload, c.day, c.requests) for c in counts] == [
        ("sentiment-api", date(2024, 9, 1), 1000),
        ("sentiment-api", date(2024, 9, 2), 250),
    ]
    assert asked[0]["query"] == "sum by (job) (increase(mlcost_predictions_total[1d]))"
    assert float(asked[0]["start"]) == 1725235200 and float(asked[0]["end"]) == 1725321600
    assert asked[0]["step"] == "86400"
    assert counts[0].source.startswith("Prometheus http://prom:9090: sum by (job)")


def test_unit_cost_needs_exactly_one_source_of_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = ["--home", str(tmp_path)]
    assert main(["billing", "unit-cost", *home]) == 2
    assert "one of --requests FILE or --prometheus URL" in capsys.readouterr().err
    assert main(["billing", "unit-cost", "--prometheus", "http://127.0.0.1:9", *home]) == 2
    assert "no billing export imported yet" in capsys.readouterr().err
