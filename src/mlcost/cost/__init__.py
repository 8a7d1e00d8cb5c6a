"""Cost: the unit economics of serving ML, spot arithmetic, and savings waterfalls.

Input: prices (Offers and the price book from the catalog), counts, hours, throughput,
spot interruption buckets, node-hours and utilization (or metered energy).
Output: monthly bills, cost per 1,000 predictions, break-even points, TCO/ROI, spot
interruption rates and checkpoint intervals, the case study's waterfall (core WaterfallBars),
a fleet's energy and kgCO2e (core CarbonFootprint).
"""

from __future__ import annotations

from mlcost.cost._carbon import GridLookup, NodeUsage, energy_carbon, fleet_carbon, node_watts
from mlcost.cost._pricing import PricingOption, pricing_options
from mlcost.cost._spot import (
    interruptions_per_hour,
    monthly_interruption_share,
    young_daly_interval_s,
)
from mlcost.cost._unit_economics import (
    HOURS_PER_MONTH,
    ServerlessCall,
    TotalCost,
    hours_per_month,
    monthly_usd,
    serverless_breakeven_requests,
    serverless_monthly_usd,
    usd_per_1k_predictions,
)
from mlcost.cost._waterfall import (
    CaseStudy,
    PriceCheck,
    PriceSource,
    price_checks,
    resolve_case_study,
)

__all__ = [
    "HOURS_PER_MONTH",
    "CaseStudy",
    "GridLookup",
    "NodeUsage",
    "PriceCheck",
    "PriceSource",
    "PricingOption",
    "ServerlessCall",
    "TotalCost",
    "energy_carbon",
    "fleet_carbon",
    "hours_per_month",
    "interruptions_per_hour",
    "monthly_interruption_share",
    "monthly_usd",
    "node_watts",
    "price_checks",
    "pricing_options",
    "resolve_case_study",
    "serverless_breakeven_requests",
    "serverless_monthly_usd",
    "usd_per_1k_predictions",
    "young_daly_interval_s",
]
