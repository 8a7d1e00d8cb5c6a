from __future__ import annotations

import pytest

from mlcost.catalog import load_shipped
from mlcost.core import CostError, UsageError, waterfall_reduction
from mlcost.cost import CaseStudy, price_checks, resolve_case_study


def test_case_study_reproduces_the_reference_story_to_the_cent() -> None:
    bars = CaseStudy().waterfall()
    assert [round(bar.monthly_usd, 2) for bar in bars] == [1893.60, 1136.16, 324.00, 129.60]
    assert [round(bar.saved_usd, 2) for bar in bars] == [0.0, 757.44, 812.16, 194.40]
    assert round(waterfall_reduction(bars) * 100, 1) == 93.2
    assert bars[0].monthly_usd == pytest.approx(1893.60)
    assert bars[-1].monthly_usd == pytest.approx(129.60)


def test_each_bar_is_a_one_line_compute_bill_like_the_plan_s() -> None:
    assert CaseStudy().hours == 720
    for bar in CaseStudy().waterfall():
        (line,) = bar.cost.lines
        assert line.category == "compute" and line.unit == "node-hour"
        assert line.quantity * line.usd_per_unit == pytest.approx(line.usd_per_month)
        assert bar.monthly_usd == bar.cost.total_usd_per_month == line.usd_per_month
        assert line.source == "the reference story" and bar.basis == "scenario"
        assert bar.option is None
        assert any(note.startswith("compute only") for note in bar.cost.assumptions)
    baseline = CaseStudy().waterfall()[0].cost.lines[0]
    assert (baseline.item, baseline.quantity, baseline.usd_per_unit) == (
        "g4dn.xlarge on-demand",
        5 * 720,
        0.526,
    )
    assert [bar.cost.lines[0].pricing for bar in CaseStudy().waterfall()] == [
        "on-demand",
        "on-demand",
        "spot",
        "spot",
    ]


def test_case_study_steps_are_autoscaling_then_spot_then_int8_cpu() -> None:
    labels = [bar.label for bar in CaseStudy().waterfall()]
    assert labels[1].startswith("autoscaling")
    assert labels[2].startswith("spot")
    assert labels[3].startswith("INT8 on CPU: 6 x c6i.large")


def test_price_checks_show_where_today_s_catalog_differs_from_the_story() -> None:
    checks = {(c.instance_type, c.pricing): c for c in price_checks(CaseStudy(), load_shipped())}
    on_demand = checks[("g4dn.xlarge", "on-demand")]
    assert on_demand.catalog_usd_per_hour == 0.526 and not on_demand.differs
    gpu_spot = checks[("g4dn.xlarge", "spot")]
    assert gpu_spot.catalog_usd_per_hour == 0.2 and gpu_spot.differs
    assert checks[("c6i.large", "spot")].catalog_usd_per_hour == 0.0364


def test_another_instance_type_is_priced_from_the_catalog() -> None:
    catalog = load_shipped()
    study = resolve_case_study(catalog, CaseStudy(gpu_type="g5.xlarge", cpu_type="c7g.large"))
    assert study.gpu_on_demand_usd_per_hour == 1.006
    assert study.gpu_spot_usd_per_hour == 0.4246
    assert study.cpu_spot_usd_per_hour == 0.0386
    assert study.bases == ("catalog", "catalog", "catalog")
    lines = [bar.cost.lines[0] for bar in study.waterfall()]
    assert all(line.source.startswith("shipped") for line in lines)
    assert lines[0].as_of is not None and lines[0].usd_per_unit == 1.006


def test_given_prices_win_and_catalog_prices_can_replace_the_story() -> None:
    catalog = load_shipped()
    given = resolve_case_study(catalog, CaseStudy(), given=(0.5, None, None))
    assert given.gpu_on_demand_usd_per_hour == 0.5 and given.bases[0] == "given"
    assert given.waterfall()[0].cost.lines[0].source == "given with --gpu-price"
    today = resolve_case_study(catalog, CaseStudy(), use_catalog_prices=True)
    assert round(today.waterfall()[-1].monthly_usd, 2) == round(6 * 0.0364 * 720, 2)


def test_unknown_instance_type_asks_for_a_price() -> None:
    with pytest.raises(UsageError, match=r"not in the catalog.*--gpu-price"):
        resolve_case_study(load_shipped(), CaseStudy(gpu_type="x9.huge"))


def test_waterfall_needs_a_paid_baseline() -> None:
    with pytest.raises(CostError, match="baseline costs"):
        CaseStudy(gpu_count=0).waterfall()
    with pytest.raises(CostError, match="baseline costs"):
        CaseStudy(gpu_on_demand_usd_per_hour=0.0).waterfall()
    assert waterfall_reduction(()) == 0.0
