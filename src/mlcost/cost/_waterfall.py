"""The reference case study as a savings waterfall, in the plan's own bars and bill lines.

Each bar is a ``WaterfallBar`` whose bill holds one compute ``BillLine``: the bar's
machine-hours at the story's (or the catalog's, or the user's) price. The story
prices the machines alone, so its bars carry compute only; ``mlcost plan`` prices
the whole bill.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Literal

from mlcost.catalog import Catalog
from mlcost.core import BillLine, CostBreakdown, CostError, UsageError, WaterfallBar
from mlcost.cost._unit_economics import hours_per_month, monthly_usd

PriceBasis = Literal["scenario", "catalog", "given"]
StudyPricing = Literal["on-demand", "spot"]

_STORY_SOURCE = "the reference story"
_COMPUTE_ONLY = "compute only: the story's own scope; platform, storage and transfer are not billed"


@dataclass(frozen=True, slots=True)
class PriceSource:
    """Where one of the study's prices came from: its basis, its source and date (None: undated)."""

    basis: PriceBasis = "scenario"
    source: str = _STORY_SOURCE
    as_of: date | None = None


@dataclass(frozen=True, slots=True)
class CaseStudy:
    """The reference story: a BERT sentiment service on GPUs, cut in three steps.

    Defaults are the story's own figures, which are not today's catalog prices:
    ``price_checks`` compares them. ``price_sources`` says where the GPU
    on-demand, GPU spot and CPU spot prices came from, in that order.
    """

    region: str = "us-east-1"
    hours_per_day: float = 24.0
    days: float = 30.0
    gpu_type: str = "g4dn.xlarge"
    gpu_count: float = 5.0
    gpu_on_demand_usd_per_hour: float = 0.526
    autoscaled_gpu_count: float = 3.0
    gpu_spot_usd_per_hour: float = 0.15
    cpu_type: str = "c6i.large"
    cpu_count: float = 6.0
    cpu_spot_usd_per_hour: float = 0.03
    price_sources: tuple[PriceSource, PriceSource, PriceSource] = (
        PriceSource(),
        PriceSource(),
        PriceSource(),
    )

    @property
    def hours(self) -> float:
        return hours_per_month(hours_per_day=self.hours_per_day, days=self.days)

    @property
    def bases(self) -> tuple[PriceBasis, PriceBasis, PriceBasis]:
        gpu_od, gpu_spot, cpu_spot = self.price_sources
        return gpu_od.basis, gpu_spot.basis, cpu_spot.basis

    def waterfall(self) -> tuple[WaterfallBar, ...]:
        """Baseline, then autoscaling, then spot, then INT8 on CPU spot; compute only.

        Raises CostError when the baseline costs nothing.
        """
        gpu_od, gpu_spot, cpu_spot = self.price_sources
        gpu, cpu = self.gpu_type, self.cpu_type
        autoscaled = self.autoscaled_gpu_count
        steps: tuple[tuple[str, BillLine, PriceSource], ...] = (
            (
                f"{self.gpu_count:g} x {gpu} on-demand, always on",
                self._line(
                    gpu, self.gpu_count, "on-demand", self.gpu_on_demand_usd_per_hour, gpu_od
                ),
                gpu_od,
            ),
            (
                f"autoscaling: {autoscaled:g} x {gpu} on average",
                self._line(gpu, autoscaled, "on-demand", self.gpu_on_demand_usd_per_hour, gpu_od),
                gpu_od,
            ),
            (
                "spot instances",
                self._line(gpu, autoscaled, "spot", self.gpu_spot_usd_per_hour, gpu_spot),
                gpu_spot,
            ),
            (
                f"INT8 on CPU: {self.cpu_count:g} x {cpu} spot",
                self._line(cpu, self.cpu_count, "spot", self.cpu_spot_usd_per_hour, cpu_spot),
                cpu_spot,
            ),
        )
        previous = steps[0][1].usd_per_month
        if previous <= 0:
            raise CostError("the baseline costs $0/month; give it a price and a count above zero")
        bars: list[WaterfallBar] = []
        for label, line, price in steps:
            cost = CostBreakdown((line,), (_COMPUTE_ONLY,))
            saved = previous - line.usd_per_month
            bars.append(WaterfallBar(label, line.usd_per_month, saved, None, price.basis, cost))
            previous = line.usd_per_month
        return tuple(bars)

    def _line(
        self,
        instance_type: str,
        count: float,
        pricing: StudyPricing,
        usd_per_hour: float,
        price: PriceSource,
    ) -> BillLine:
        """``count`` machines for the study's hours, as one compute line of machine-hours."""
        hours = self.hours
        return BillLine(
            "compute",
            f"{instance_type} {pricing}",
            count * hours,
            "node-hour",
            usd_per_hour,
            monthly_usd(usd_per_hour, count=count, hours=hours),
            price.source,
            price.as_of,
            f"{count:g} x {hours:g} h",
            pricing=pricing,
        )


@dataclass(frozen=True, slots=True)
class PriceCheck:
    """A scenario price beside the catalog's current price for the same machine."""

    instance_type: str
    pricing: StudyPricing
    scenario_usd_per_hour: float
    catalog_usd_per_hour: float | None
    source: str

    @property
    def differs(self) -> bool:
        return (
            self.catalog_usd_per_hour is None
            or abs(self.catalog_usd_per_hour - self.scenario_usd_per_hour) > 1e-9
        )


@dataclass(frozen=True, slots=True)
class _CatalogPrice:
    """The catalog's price of one machine, or None with the reason in ``source``."""

    usd_per_hour: float | None
    source: str
    as_of: date | None = None


def _catalog_price(
    catalog: Catalog, instance_type: str, region: str, pricing: StudyPricing
) -> _CatalogPrice:
    offer = catalog.offer(instance_type, region=region)
    if offer is None:
        return _CatalogPrice(None, f"{instance_type} is not in the catalog for {region}")
    is_spot = pricing == "spot"
    price = offer.usd_per_hour(is_spot=is_spot)
    if price is None:
        return _CatalogPrice(
            None, f"the catalog has no {pricing} price for {instance_type} in {region}"
        )
    as_of = offer.spot_seen_on if is_spot else offer.as_of
    return _CatalogPrice(price, f"{offer.origin}: {offer.source}", as_of)


def price_checks(study: CaseStudy, catalog: Catalog) -> list[PriceCheck]:
    """The study's three prices against the catalog's current ones in the study's region."""
    wanted: tuple[tuple[str, StudyPricing, float], ...] = (
        (study.gpu_type, "on-demand", study.gpu_on_demand_usd_per_hour),
        (study.gpu_type, "spot", study.gpu_spot_usd_per_hour),
        (study.cpu_type, "spot", study.cpu_spot_usd_per_hour),
    )
    checks = []
    for instance_type, pricing, scenario in wanted:
        found = _catalog_price(catalog, instance_type, study.region, pricing)
        checks.append(
            PriceCheck(instance_type, pricing, scenario, found.usd_per_hour, found.source)
        )
    return checks


def resolve_case_study(
    catalog: Catalog,
    study: CaseStudy,
    *,
    given: tuple[float | None, float | None, float | None] = (None, None, None),
    use_catalog_prices: bool = False,
) -> CaseStudy:
    """Fill the study's three prices: given by the user, else the story's, else the catalog's.

    The story's figure is used only for the story's own machine; another
    instance type takes its price from the catalog (or ``use_catalog_prices``
    forces the catalog for all three). Each price's source and date go with it
    (``price_sources``). Raises UsageError when a needed catalog price is missing.
    """
    story = CaseStudy()
    slots: tuple[tuple[str, str, StudyPricing, float, str], ...] = (
        (
            study.gpu_type,
            story.gpu_type,
            "on-demand",
            story.gpu_on_demand_usd_per_hour,
            "--gpu-price",
        ),
        (study.gpu_type, story.gpu_type, "spot", story.gpu_spot_usd_per_hour, "--gpu-spot-price"),
        (study.cpu_type, story.cpu_type, "spot", story.cpu_spot_usd_per_hour, "--cpu-spot-price"),
    )
    prices: list[float] = []
    sources: list[PriceSource] = []
    for (instance_type, story_type, pricing, story_price, flag), user_price in zip(
        slots, given, strict=True
    ):
        if user_price is not None:
            prices.append(user_price)
            sources.append(PriceSource("given", f"given with {flag}"))
        elif instance_type == story_type and not use_catalog_prices:
            prices.append(story_price)
            sources.append(PriceSource())
        else:
            found = _catalog_price(catalog, instance_type, study.region, pricing)
            if found.usd_per_hour is None:
                raise UsageError(f"{found.source}; give the price with {flag}")
            prices.append(found.usd_per_hour)
            sources.append(PriceSource("catalog", found.source, found.as_of))
    return replace(
        study,
        gpu_on_demand_usd_per_hour=prices[0],
        gpu_spot_usd_per_hour=prices[1],
        cpu_spot_usd_per_hour=prices[2],
        price_sources=(sources[0], sources[1], sources[2]),
    )
