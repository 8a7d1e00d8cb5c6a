"""What a training run cost: wall time x the machine's price, and energy / CO2 by codecarbon."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Self

from mlcost.catalog import Catalog
from mlcost.core import require

# Where a cloud region's electricity comes from, for codecarbon's country grid
# intensity (codecarbon's own cloud table covers only GCP regions).
_REGION_COUNTRY = {
    "us-": "USA",
    "ca-": "CAN",
    "eu-west-1": "IRL",
    "eu-west-2": "GBR",
    "eu-west-3": "FRA",
    "eu-central-1": "DEU",
    "eu-north-1": "SWE",
    "europe-west4": "NLD",
    "europe-west1": "BEL",
    "europe-west3": "DEU",
    "europe-west2": "GBR",
    "eastus": "USA",
    "westus": "USA",
    "centralus": "USA",
    "westeurope": "NLD",
    "northeurope": "IRL",
}


def country_for_region(region: str) -> str | None:
    """ISO 3166 alpha-3 country of a cloud region, or None when mlcost does not know it."""
    if region in _REGION_COUNTRY:
        return _REGION_COUNTRY[region]
    for prefix, country in _REGION_COUNTRY.items():
        if prefix.endswith("-") and region.startswith(prefix):
            return country
    return None


@dataclass(frozen=True, slots=True)
class MachinePrice:
    """The hourly price a run is charged at, and where it comes from."""

    instance_type: str
    region: str
    pricing: Literal["on-demand", "spot"]
    usd_per_hour: float
    source: str


def machine_price(
    catalog: Catalog, instance_type: str, region: str, *, is_spot: bool
) -> MachinePrice:
    """The catalog price of the machine the run says it runs on.

    Raises CatalogError for an unknown machine or a missing spot price.
    """
    offer, price = catalog.require_price(instance_type, region=region, is_spot=is_spot)
    return MachinePrice(
        instance_type,
        region,
        "spot" if is_spot else "on-demand",
        price,
        f"{offer.origin}: {offer.source}",
    )


@dataclass(frozen=True, slots=True)
class Footprint:
    """Energy and CO2 of a span of work, as codecarbon estimates them (None when it could not)."""

    energy_kwh: float | None
    co2_kg: float | None
    basis: str


class CarbonMeter:
    """codecarbon's offline tracker around a block of work; never fails the run it measures."""

    def __init__(self, *, country: str | None) -> None:
        self.country = country
        self._tracker: Any = None
        self._started = 0.0
        self.footprint = Footprint(None, None, "not measured")

    def __enter__(self) -> Self:
        self._started = time.perf_counter()
        if self.country is None:
            self.footprint = Footprint(
                None,
                None,
                "not measured: give --region or --country for the grid's carbon intensity",
            )
            return self
        try:
            codecarbon = require(
                "codecarbon", extra="train", purpose="energy and CO2 of a training run"
            )
            self._tracker = codecarbon.OfflineEmissionsTracker(
                country_iso_code=self.country,
                save_to_file=False,
                log_level="error",
                tracking_mode="process",
            )
            self._tracker.start()
        except Exception as exc:  # noqa: BLE001 - a measurement tool must not stop the training it measures
            logging.getLogger("mlcost.train").warning(
                "codecarbon could not start (%s); no CO2 figure", exc
            )
            self._tracker = None
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._tracker is None:
            return
        try:
            co2_kg = self._tracker.stop()
            energy = self._tracker.final_emissions_data.energy_consumed
            self.footprint = Footprint(
                float(energy),
                float(co2_kg or 0.0),
                f"estimated by codecarbon (offline, grid of {self.country})",
            )
        except Exception as exc:  # noqa: BLE001 - see __enter__
            logging.getLogger("mlcost.train").warning(
                "codecarbon could not measure (%s); no CO2 figure", exc
            )
