from __future__ import annotations

import pytest

from mlcost.catalog import load_shipped
from mlcost.core import CostError, UsageError
from mlcost.cost import CaseStudy, Fleet, build_waterfall, price_checks, resolve_case_study


def test_case_study_reproduces_the_reference_story_to_the_cent() -> None:
    waterfall = CaseStudy().waterfall()
    assert waterfall.hours == 720
    assert [round(step.monthly_usd, 2) for step in waterfall.steps] == [
        1893.60,
        1136.16,
        324.00,
        129.60,
    ]
    assert [round(step.saved_usd, 2) for step in waterfall.steps[1:]] == [757.44, 812.16, 194.40]
    assert round(waterfall.reduction * 100, 1) == 93.2
    assert waterfall.baseline_usd == pytest.approx(1893.60)
    assert waterfall.final_usd == pytest.approx(129.60)


def test_case_study_steps_are_autoscaling_then_spot_then_int8_cpu() -> None:
    labels = [step.label for step in CaseStudy().waterfall().steps]
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


def test_given_prices_win_and_catalog_prices_can_replace_the_story() -> None:
    catalog = load_shipped()
    given = resolve_case_study(catalog, CaseStudy(), given=(0.5, None, None))
    assert given.gpu_on_demand_usd_per_hour == 0.5 and given.bases[0] == "given"
    today = resolve_case_study(catalog, CaseStudy(), use_catalog_prices=True)
    assert round(today.waterfall().final_usd, 2) == round(6 * 0.0364 * 720, 2)


def test_unknown_instance_type_asks_for_a_price() -> None:
    with pytest.raises(UsageError, match=r"not in the catalog.*--gpu-price"):
        resolve_case_study(load_shipped(), CaseStudy(gpu_type="x9.huge"))


def test_waterfall_needs_a_paid_baseline() -> None:
    with pytest.raises(CostError):
        build_waterfall([], hours=720)
    with pytest.raises(CostError, match="baseline costs"):
        build_waterfall([("free", Fleet("t", 0, "on-demand", 0.0))], hours=720)
