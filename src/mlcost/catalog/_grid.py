"""How much CO2e a kWh emits in a cloud region: codecarbon's data, read through its own API.

codecarbon ships the grid intensity of each Google Cloud region (its cloud table,
from Google's published region data), the EPA eGRID rate of each US state, and the
average of each country's energy mix; nothing is copied into mlcost. A region is
looked up in that order: the cloud table; else, by ``region_locations.csv``, its US
state; else its country; else the world average. A fallback is never silent: the
result names the table the region was missing from and what stood in for it.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Literal

from mlcost.catalog._power import PowerTable, load_power_table
from mlcost.core import require

GridBasis = Literal["cloud region", "state", "country", "world"]
# codecarbon keeps the US state rates in lbs/MWh; 1 lb = 453.59237 g, 1 MWh = 1,000 kWh.
_G_PER_KWH_PER_LBS_PER_MWH = 0.45359237


@dataclass(frozen=True, slots=True)
class GridIntensity:
    """The grid carbon intensity taken for one cloud region, and what it rests on.

    ``area`` is what the figure describes ("us-central1 (Council Bluffs, USA)",
    "Virginia, USA", "Ireland", "the world"); ``fallback`` is empty when the region
    itself is in codecarbon's cloud table, else says that it is not and what stood in.
    """

    provider: str
    region: str
    g_co2e_per_kwh: float
    basis: GridBasis
    area: str
    source: str
    fallback: str = ""

    @property
    def cited(self) -> str:
        """The intensity with its area, source and any fallback, for a figure's inputs."""
        base = f"grid {self.g_co2e_per_kwh:.0f} gCO2e/kWh: {self.area} ({self.source})"
        return f"{base}; {self.fallback}" if self.fallback else base


@functools.cache
def _codecarbon_data() -> dict[str, Any]:
    """codecarbon's cloud table (as records), US state rates, country mixes, world average."""
    codecarbon_input = require(
        "codecarbon.input", extra="carbon", purpose="the grid carbon intensity of cloud regions"
    )
    source = codecarbon_input.DataSource()
    return {
        "cloud": source.get_cloud_emissions_data().to_dict("records"),
        "usa": source.get_country_emissions_data("usa"),
        "countries": source.get_global_energy_mix_data(),
        "per_source": source.get_carbon_intensity_per_source_data(),
    }


def _text(value: object) -> str:
    """A cell of codecarbon's table as text: pandas gives NaN for an empty one."""
    return value if isinstance(value, str) else ""


def grid_intensity(provider: str, region: str, *, power: PowerTable | None = None) -> GridIntensity:
    """The grid intensity of ``region``, falling back to its state, country or the world.

    Raises MissingDependencyError when codecarbon is not installed.
    """
    data = _codecarbon_data()
    for row in data["cloud"]:
        if row["provider"] == provider and row["region"] == region and _finite(row["impact"]):
            where = ", ".join(filter(None, (_text(row["city"]), _text(row["countryIsoCode"]))))
            return GridIntensity(
                provider,
                region,
                float(row["impact"]),
                "cloud region",
                f"{region} ({where})",
                f"codecarbon cloud table: {_text(row['source']) or 'no source given'}",
            )
    only = "" if provider == "gcp" else " (it holds GCP regions only)"
    missing = f"{provider} {region} is not in codecarbon's cloud table{only}"
    location = (power or load_power_table()).location(provider, region)
    if location is None:
        return _world(provider, region, data, f"{missing}, nor in region_locations.csv")
    states = data["usa"]
    state = states.get(location.state) if location.country == "USA" else None
    if state is not None:
        named = states["_source"]
        return GridIntensity(
            provider,
            region,
            float(state["emissions"]) * _G_PER_KWH_PER_LBS_PER_MWH,
            "state",
            f"{location.state.title()}, USA",
            f"{named['name']} ({named['year']}) via codecarbon: {named['url']}",
            f"{missing}; the grid of its state stands in",
        )
    country = data["countries"].get(location.country)
    if country is not None and _finite(country.get("carbon_intensity")):
        return GridIntensity(
            provider,
            region,
            float(country["carbon_intensity"]),
            "country",
            str(country["country_name"]),
            f"codecarbon global_energy_mix.json, {country['country_name']} {country['year']}",
            f"{missing}; the average grid of its country stands in",
        )
    return _world(
        provider, region, data, f"{missing}; codecarbon has no figure for {location.country}"
    )


def _world(provider: str, region: str, data: dict[str, Any], why: str) -> GridIntensity:
    per_source = data["per_source"]
    return GridIntensity(
        provider,
        region,
        float(per_source["world_average"]),
        "world",
        "the world",
        f"codecarbon world average: {per_source['world_average_source']}",
        f"{why}; the world average stands in",
    )


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)
