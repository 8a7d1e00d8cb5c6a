"""Plan: the cheapest hardware, pricing and scaling that meets the SLO, simulated over a month.

Input: a Workload (traffic, SLO, accuracy floor, current setup), Profiles, catalog Offers.
Output: a Plan (winner, cost breakdown, SLO result, waterfall, runners-up), or a training-job plan.
"""

from __future__ import annotations

__all__: list[str] = []
