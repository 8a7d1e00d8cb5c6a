"""A monitor reading: what a running workload did over a window, against what its plan said.

Every figure carries its basis: ``measured`` (read from Prometheus: the server's counters,
the cluster's resource metrics, priced from the catalog where it is money) or ``estimated``
(the plan's prediction, a calibration's expectation). A figure whose series were absent
has the value None, and its note says what was missing, so a reading never fails for want
of one source and never shows a guess as a measurement. Names carry their unit; shares
are fractions (0.3 = 30 %).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mlcost.core._values import Basis


@dataclass(frozen=True, slots=True)
class MonitorFigure:
    """One figure of a reading; ``source`` is the PromQL or the file field it came from."""

    name: str
    value: float | None
    basis: Basis
    source: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class PlanGap:
    """One figure against the plan: ``actual`` measured, ``planned`` the plan's estimate."""

    name: str
    actual: float | None
    planned: float

    @property
    def gap_fraction(self) -> float | None:
        """How far the actual figure is from the plan's (0.25 = 25 % above it); None when
        there is no actual figure or the plan's is 0."""
        if self.actual is None or self.planned == 0:
            return None
        return self.actual / self.planned - 1.0


@dataclass(frozen=True, slots=True)
class MonitorReading:
    """One reading of a workload: ``figures`` over the ``covered_s`` seconds of the
    ``window_s`` asked for that Prometheus (``source``) held, up to ``taken_at`` (the last
    scrape). ``plan_gaps`` compare it with ``plan_option`` (a plan option's label; empty
    without a plan). ``flags`` are the signals past their thresholds; ``notes`` say what was
    absent and what a figure rests on."""

    workload: str
    taken_at: datetime
    window_s: float
    covered_s: float
    source: str
    figures: tuple[MonitorFigure, ...]
    plan_gaps: tuple[PlanGap, ...] = ()
    plan_option: str = ""
    flags: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def figure(self, name: str) -> MonitorFigure | None:
        """The figure called ``name``, or None when the reading has none."""
        return next((f for f in self.figures if f.name == name), None)

    def value(self, name: str) -> float | None:
        """The value of the figure called ``name``; None when absent or not read."""
        found = self.figure(name)
        return found.value if found is not None else None
