"""Savings waterfalls, and the reference case study that mlcost must reproduce."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from mlcost.catalog import Catalog
from mlcost.core import CostError, UsageError
from mlcost.cost._unit_economics import hours_per_month, monthly_usd

PriceBasis = Literal["scenario", "catalog", "given"]


@dataclass(frozen=True, slots=True)
class Fleet:
    """``count`` machines of one type under one pricing model (count may be an average)."""

    instance_type: str
    count: float
    pricing: Literal["on-demand", "spot"]
    usd_per_hour: float
    basis: PriceBasis = "scenario"

    def monthly_usd(self, hours: float) -> float:
        return monthly_usd(self.usd_per_hour, count=self.count, hours=hours)


@dataclass(frozen=True, slots=True)
class WaterfallStep:
    """One bar of a savings waterfall: a change, and the monthly bill after it."""

    label: str
    fleet: Fleet
    monthly_usd: float
    saved_usd: float
    cumulative_reduction: float


@dataclass(frozen=True, slots=True)
class Waterfall:
    """A baseline and the steps that cut it; every figure is list-price arithmetic."""

    hours: float
    steps: tuple[WaterfallStep, ...]

    @property
    def baseline_usd(self) -> float:
        return self.steps[0].monthly_usd

    @property
    def final_usd(self) -> float:
        return self.steps[-1].monthly_usd

    @property
    def reduction(self) -> float:
        """Share of the baseline bill saved by all steps (0.932 = 93.2 %)."""
        return 1.0 - self.final_usd / self.baseline_usd if self.baseline_usd else 0.0


def build_waterfall(steps: list[tuple[str, Fleet]], *, hours: float) -> Waterfall:
    """A waterfall from labelled fleets, the first being the baseline.

    Raises CostError when there is no step or the baseline costs nothing.
    """
    if not steps:
        raise CostError("a waterfall needs at least a baseline step")
    baseline = steps[0][1].monthly_usd(hours)
    if baseline <= 0:
        raise CostError("the baseline costs $0/month; give it a price and a count above zero")
    built: list[WaterfallStep] = []
    previous = baseline
    for label, fleet in steps:
        cost = fleet.monthly_usd(hours)
        built.append(WaterfallStep(label, fleet, cost, previous - cost, 1.0 - cost / baseline))
        previous = cost
    return Waterfall(hours, tuple(built))


@dataclass(frozen=True, slots=True)
class CaseStudy:
    """The reference story: a BERT sentiment service on GPUs, cut in three steps.

    Defaults are the story's own figures, which are not today's catalog prices:
    ``price_checks`` compares them.
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
    bases: tuple[PriceBasis, PriceBasis, PriceBasis] = ("scenario", "scenario", "scenario")

    @property
    def hours(self) -> float:
        return hours_per_month(hours_per_day=self.hours_per_day, days=self.days)

    def waterfall(self) -> Waterfall:
        """Baseline, then autoscaling, then spot, then INT8 on CPU spot."""
        gpu_od, gpu_spot, cpu_spot = self.bases
        gpu = self.gpu_type
        return build_waterfall(
            [
                (
                    f"{self._n(self.gpu_count)} x {gpu} on-demand, always on",
                    Fleet(
                        gpu, self.gpu_count, "on-demand", self.gpu_on_demand_usd_per_hour, gpu_od
                    ),
                ),
                (
                    f"autoscaling: {self._n(self.autoscaled_gpu_count)} x {gpu} on average",
                    Fleet(
                        gpu,
                        self.autoscaled_gpu_count,
                        "on-demand",
                        self.gpu_on_demand_usd_per_hour,
                        gpu_od,
                    ),
                ),
                (
                    "spot instances",
                    Fleet(
                        gpu, self.autoscaled_gpu_count, "spot", self.gpu_spot_usd_per_hour, gpu_spot
                    ),
                ),
                (
                    f"INT8 on CPU: {self._n(self.cpu_count)} x {self.cpu_type} spot",
                    Fleet(
                        self.cpu_type, self.cpu_count, "spot", self.cpu_spot_usd_per_hour, cpu_spot
                    ),
                ),
            ],
            hours=self.hours,
        )

    @staticmethod
    def _n(count: float) -> str:
        return f"{count:g}"


@dataclass(frozen=True, slots=True)
class PriceCheck:
    """A scenario price beside the catalog's current price for the same machine."""

    instance_type: str
    pricing: Literal["on-demand", "spot"]
    scenario_usd_per_hour: float
    catalog_usd_per_hour: float | None
    source: str

    @property
    def differs(self) -> bool:
        return (
            self.catalog_usd_per_hour is None
            or abs(self.catalog_usd_per_hour - self.scenario_usd_per_hour) > 1e-9
        )


def _catalog_price(
    catalog: Catalog, instance_type: str, region: str, pricing: str
) -> tuple[float | None, str]:
    offer = catalog.offer(instance_type, region=region)
    if offer is None:
        return None, f"{instance_type} is not in the catalog for {region}"
    price = offer.usd_per_hour(is_spot=pricing == "spot")
    if price is None:
        return None, f"the catalog has no {pricing} price for {instance_type} in {region}"
    return price, f"{offer.origin}: {offer.source}"


def price_checks(study: CaseStudy, catalog: Catalog) -> list[PriceCheck]:
    """The study's three prices against the catalog's current ones in the study's region."""
    wanted = (
        (study.gpu_type, "on-demand", study.gpu_on_demand_usd_per_hour),
        (study.gpu_type, "spot", study.gpu_spot_usd_per_hour),
        (study.cpu_type, "spot", study.cpu_spot_usd_per_hour),
    )
    checks = []
    for instance_type, pricing, scenario in wanted:
        price, source = _catalog_price(catalog, instance_type, study.region, pricing)
        checks.append(PriceCheck(instance_type, pricing, scenario, price, source))  # type: ignore[arg-type]
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
    forces the catalog for all three). Raises UsageError when a needed catalog
    price is missing.
    """
    story = CaseStudy()
    slots = (
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
    bases: list[PriceBasis] = []
    for (instance_type, story_type, pricing, story_price, flag), user_price in zip(
        slots, given, strict=True
    ):
        if user_price is not None:
            prices.append(user_price)
            bases.append("given")
        elif instance_type == story_type and not use_catalog_prices:
            prices.append(story_price)
            bases.append("scenario")
        else:
            price, reason = _catalog_price(catalog, instance_type, study.region, pricing)
            if price is None:
                raise UsageError(f"{reason}; give the price with {flag}")
            prices.append(price)
            bases.append("catalog")
    return replace(
        study,
        gpu_on_demand_usd_per_hour=prices[0],
        gpu_spot_usd_per_hour=prices[1],
        cpu_spot_usd_per_hour=prices[2],
        bases=(bases[0], bases[1], bases[2]),
    )
