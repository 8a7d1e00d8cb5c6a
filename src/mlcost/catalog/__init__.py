"""Catalog: prices -> Offers, with every price's source and date.

Input: the catalog shipped in ``catalog/data``, price files the user imports
(SkyPilot vms.csv, AWS Price List JSON), the user's overrides in the store.
Output: a Catalog of validated Offers, their per-zone spot prices, the price
book (commitments, serverless, transfer, storage), the date of the
interruption data, each machine's CPU (with the CPU a profile ran on), the power
coefficients and region locations behind carbon figures, and each region's grid intensity.
"""

from __future__ import annotations

from mlcost.catalog._accelerators import (
    KNOWN_ACCELERATORS,
    AcceleratorSpec,
    canonical_accelerator,
    matches_accelerator,
)
from mlcost.catalog._catalog import (
    Catalog,
    OfferQuery,
    PriceBook,
    apply_overrides,
    import_price_file,
    layer_offers,
    load_catalog,
    load_shipped,
)
from mlcost.catalog._cpu_ids import (
    KNOWN_CPU_IDS,
    CpuIdentity,
    CpuIdRow,
    identify_cpu,
    microarchitecture,
)
from mlcost.catalog._grid import GridIntensity, grid_intensity
from mlcost.catalog._importers import (
    IMPORTERS,
    CatalogImporter,
    ImportResult,
    MalformedPriceFile,
    read_price_file,
    register_importer,
)
from mlcost.catalog._interruption_data import (
    INTERRUPTION_DATA,
    InterruptionData,
    interruption_data_age_days,
)
from mlcost.catalog._machines import (
    KNOWN_MACHINES,
    REFERENCE_CORE,
    MachineSpec,
    instance_family,
    machine_spec,
    match_cpu,
)
from mlcost.catalog._power import (
    PowerCoefficient,
    PowerComponent,
    PowerTable,
    RegionLocation,
    load_power_table,
    parse_power_rows,
    parse_region_locations,
)
from mlcost.catalog._rows import OFFER_COLUMNS, Issue, find_duplicates, parse_offer_row
from mlcost.catalog._spot_zones import SpotZonePrice

__all__ = [
    "IMPORTERS",
    "INTERRUPTION_DATA",
    "KNOWN_ACCELERATORS",
    "KNOWN_CPU_IDS",
    "KNOWN_MACHINES",
    "OFFER_COLUMNS",
    "REFERENCE_CORE",
    "AcceleratorSpec",
    "Catalog",
    "CatalogImporter",
    "CpuIdRow",
    "CpuIdentity",
    "GridIntensity",
    "ImportResult",
    "InterruptionData",
    "Issue",
    "MachineSpec",
    "MalformedPriceFile",
    "OfferQuery",
    "PowerCoefficient",
    "PowerComponent",
    "PowerTable",
    "PriceBook",
    "RegionLocation",
    "SpotZonePrice",
    "apply_overrides",
    "canonical_accelerator",
    "find_duplicates",
    "grid_intensity",
    "identify_cpu",
    "import_price_file",
    "instance_family",
    "interruption_data_age_days",
    "layer_offers",
    "load_catalog",
    "load_power_table",
    "load_shipped",
    "machine_spec",
    "match_cpu",
    "matches_accelerator",
    "microarchitecture",
    "parse_offer_row",
    "parse_power_rows",
    "parse_region_locations",
    "read_price_file",
    "register_importer",
]
