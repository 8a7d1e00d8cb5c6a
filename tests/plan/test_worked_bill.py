"""The reference plan against the bill worked by hand in docs/plan.md ("A worked bill"), within 1 %."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mlcost.core import BillLine, Plan, PlanOption
from mlcost.plan import plan_serving

sys.path.insert(0, str(Path(__file__).resolve().parent))
from planning_inputs import PROFILES, VARIANTS
from test_plan_serving import CATALOG, REFERENCE, SETTINGS

REQUESTS = 1_000_000 * 730 / 24
DOC = Path(__file__).resolve().parents[2] / "docs" / "plan.md"


@pytest.fixture(scope="module")
def plan() -> Plan:
    return plan_serving(
        REFERENCE, variants=VARIANTS, profiles=PROFILES, catalog=CATALOG, settings=SETTINGS
    )


def _line(option: PlanOption, text: str) -> BillLine:
    found = [line for line in option.cost.lines if text in line.item]
    assert len(found) == 1, [line.item for line in option.cost.lines]
    return found[0]


def test_the_doc_holds_the_worked_bill() -> None:
    text = DOC.read_text()
    for figure in ("30,416,667 requests", "1,602,318 GB-s", "**32.79**", "$2,117.49", "337.96"):
        assert figure in text


def test_the_winner_is_the_worked_lambda_bill(plan: Plan) -> None:
    winner = plan.winner
    assert winner.platform == "serverless" and winner.variant == "int8-dynamic"
    assert winner.platform_service.startswith("Lambda 1,769 MB, 1 vCPU")
    assert winner.latency_ms_p50 == pytest.approx(28.34, rel=0.01)
    assert winner.latency_ms_p99 == pytest.approx(48.17, rel=0.01)
    assert winner.cold_start_ms == pytest.approx(3054, rel=0.01)
    requests = _line(winner, "requests")
    assert requests.quantity == pytest.approx(30.4167, rel=0.01)
    assert requests.usd_per_month == pytest.approx(6.08, rel=0.01)
    duration = _line(winner, "duration")
    hand_gb_s = (REQUESTS * 0.03039 + 993 * 3.054) * 1769 / 1024
    assert hand_gb_s == pytest.approx(1_602_318, rel=0.001)
    assert duration.quantity == pytest.approx(hand_gb_s, rel=0.01)
    assert duration.usd_per_month == pytest.approx(26.71, rel=0.01)
    assert winner.monthly_usd == pytest.approx(32.79, rel=0.01)
    assert plan.usd_per_1k_predictions == pytest.approx(32.79 / REQUESTS * 1000, rel=0.01)


def test_the_best_kubernetes_option_is_the_worked_eks_bill(plan: Plan) -> None:
    eks = next(o for o in plan.platforms if o.platform == "kubernetes")
    assert eks.offer.instance_type == "t3.medium" and eks.pricing == "spot"
    spot = _line(eks, "t3.medium spot")
    assert _line(eks, "surplus CPU").usd_per_month == 0.0  # within its baseline
    assert spot.quantity == pytest.approx(1460, rel=0.01)
    worked = {
        "EKS control plane": 73.00,
        "system pool: 2 x t3.medium": 60.74,
        "load balancer, hourly": 16.43,
        "load balancer capacity": 2.70,
        "IPv4 of the load balancer": 7.30,
        "IPv4 of the system pool": 7.30,
        "IPv4 of the serving nodes": 7.30,
        "node disks: 20 GiB": 3.20,
        "node disks of the system pool": 3.20,
        "another zone": 0.67,
    }
    for text, usd in worked.items():
        assert _line(eks, text).usd_per_month == pytest.approx(usd, rel=0.01), text
    assert eks.cost.platform_usd_per_month == pytest.approx(174.76, rel=0.01)
    assert eks.monthly_usd == pytest.approx(
        sum(worked.values()) + spot.quantity * spot.usd_per_unit + 0.0005, rel=0.01
    )


def test_today_is_the_worked_bill_of_five_g4dn(plan: Plan) -> None:
    today = plan.waterfall[0]
    assert today.cost is not None
    assert today.cost.compute_usd_per_month == pytest.approx(1919.90, rel=0.01)
    assert today.monthly_usd == pytest.approx(2117.49, rel=0.01)
