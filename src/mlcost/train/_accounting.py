"""What a training run cost: wall time x the machine's price, and energy / CO2 by codecarbon.

codecarbon meters the machine's energy (a CPU's RAPL counters, a GPU through NVML)
where it can and models it where it cannot; the footprint says which. When the run
names its machine (provider and region from the catalog), the CO2e of that energy is
counted as plans count it: x the provider's PUE x the region's grid
(``mlcost.cost.energy_carbon``), so a run and its plan compare. Otherwise it is
codecarbon's own figure for the grid of the run's country.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Self

from mlcost.catalog import Catalog
from mlcost.core import require
from mlcost.cost import energy_carbon

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
    provider: str = ""


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
        offer.provider,
    )


@dataclass(frozen=True, slots=True)
class Footprint:
    """Energy and CO2 of a span of work, as codecarbon estimates them (None when it could not)."""

    energy_kwh: float | None
    co2_kg: float | None
    basis: str


# codecarbon says which of its figures come from a power meter only in its hardware objects
# (3.x: a CPU's ``_mode`` names the meter it reads, "constant" or "cpu_load" when it models the
# CPU; a GPU is always read through NVML); they are not public API, so they are read defensively.
_METERS = {
    "intel_rapl": "RAPL",
    "intel_power_gadget": "Intel Power Gadget",
    "apple_powermetrics": "powermetrics",
    "windows_emi": "Windows EMI",
}


def _metered_parts(tracker: Any) -> str:
    """The devices whose energy codecarbon read from a meter ("CPU via RAPL, GPU via NVML")."""
    parts = []
    for device in getattr(tracker, "_hardware", None) or ():
        kind, mode = type(device).__name__, getattr(device, "_mode", "")
        if kind == "GPU":
            parts.append("GPU via NVML")
        elif mode in _METERS:
            parts.append(f"{'CPU' if kind == 'CPU' else kind} via {_METERS[mode]}")
    return ", ".join(parts)


class CarbonMeter:
    """codecarbon's offline tracker around a block of work; never fails the run it measures.

    With ``machine`` (priced from the catalog, so its provider is known) the CO2e is the
    plans' (PUE x the region's grid); without it, codecarbon's for ``country``.
    """

    def __init__(self, *, country: str | None, machine: MachinePrice | None = None) -> None:
        self.country = country
        self.machine = machine
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
            energy = float(self._tracker.final_emissions_data.energy_consumed)
            self.footprint = self._footprint(energy, float(co2_kg or 0.0))
        except Exception as exc:  # noqa: BLE001 - see __enter__
            logging.getLogger("mlcost.train").warning(
                "codecarbon could not measure (%s); no CO2 figure", exc
            )

    def _footprint(self, energy_kwh: float, codecarbon_co2_kg: float) -> Footprint:
        metered = _metered_parts(self._tracker)
        how = (
            f"energy measured by codecarbon ({metered}; the rest modelled)"
            if metered
            else "energy estimated by codecarbon (no power meter readable here: its TDP model)"
        )
        machine = self.machine
        if machine is None or not machine.provider:
            return Footprint(
                energy_kwh, codecarbon_co2_kg, f"{how}; CO2e by codecarbon, grid of {self.country}"
            )
        carbon = energy_carbon(
            energy_kwh,
            provider=machine.provider,
            region=machine.region,
            basis="measured" if metered else "estimated",
            method=how,
        )
        return Footprint(energy_kwh, carbon.kg_co2e, f"{carbon.method} ({carbon.inputs[-1]})")
