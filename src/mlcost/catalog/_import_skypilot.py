"""Import SkyPilot's catalog vms.csv ("skypilot-vms", from skypilot-org/skypilot-catalog).

SkyPilot publishes one vms.csv per cloud. Headers as published:

    AWS   catalogs/v8/aws/vms.csv    InstanceType,AcceleratorName,AcceleratorCount,vCPUs,
                                     MemoryGiB,GpuInfo,Price,SpotPrice,Region,AvailabilityZone,Arch
    GCP   catalogs/v6/gcp/vms.csv    InstanceType,vCPUs,MemoryGiB,AcceleratorName,AcceleratorCount,
                                     GpuInfo,Region,AvailabilityZone,Price,SpotPrice
    Azure catalogs/v6/azure/vms.csv  InstanceType,AcceleratorName,AcceleratorCount,vCPUs,
                                     MemoryGiB,GpuInfo,Price,SpotPrice,Region,Generation

AWS and GCP list one row per zone (AWS by zone ID, "use1-az1"); mlcost keeps one
offer per region and instance type: on-demand is the region's price, spot the
lowest spot price among the region's standard zones.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

# A module import, not a name import: _importers loads both plugins, so either may
# be half-initialised when the other starts.
import mlcost.catalog._import_aws as aws_price_list
from mlcost.catalog._accelerators import canonical_accelerator
from mlcost.catalog._importers import (
    ImportResult,
    by_line,
    in_source_terms,
    read_text,
    register_importer,
)
from mlcost.catalog._rows import Issue, find_duplicates, parse_offer_row, zone_region
from mlcost.core import Offer

_REQUIRED_COLUMNS = (
    "InstanceType",
    "AcceleratorName",
    "AcceleratorCount",
    "vCPUs",
    "MemoryGiB",
    "Price",
    "SpotPrice",
    "Region",
)
_SOURCE_NAMES = {
    "on_demand_usd_per_hour": "Price",
    "spot_usd_per_hour": "SpotPrice",
    "vcpus": "vCPUs",
    "memory_gib": "MemoryGiB",
    "accelerator_count": "AcceleratorCount",
    "instance_type": "InstanceType",
}
# Region spellings tell the cloud apart: AWS "us-east-1", GCP "us-central1",
# Azure "eastus". Checked in this order.
_REGION_SPELLINGS = (
    (re.compile(r"^[a-z]{2}(?:-gov)?-[a-z]+-\d+$"), "aws"),
    (re.compile(r"^[a-z]+-[a-z]+\d+$"), "gcp"),
    (re.compile(r"^[a-z]+\d*$"), "azure"),
)
# AWS Local Zones and Wavelength Zones, by zone ID ("use1-atl2-az1", "use1-wl1-atl-wlz1")
# or name ("us-east-1-atl-2a", "us-east-1-wl1-atl-wlz-1"). They sit in metro areas
# with their own, often much lower, spot prices, and a launch in the region never
# lands there, so they must not set the region's spot price.
_EDGE_ZONE = re.compile(
    r"^(?:[a-z]{2,5}\d-[a-z]+\d+-az\d+|[a-z]{2}(?:-gov)?-[a-z]+-\d+-[a-z]+-\d+[a-z]|.*-wlz-?\d+)$"
)
# GCP machine types that come with GPUs. SkyPilot prices their rows for the host
# alone and lists the GPUs in separate rows (g2-standard-4 in us-central1: host
# 0.14679 + L4 0.56004 = GCP's 0.70683), so the row's price is not the machine's.
_GCP_BUNDLED_GPU_FAMILIES = frozenset({"a2", "a3", "a4", "g2", "g4"})
_GCP_ARM_FAMILIES = frozenset({"t2a", "c4a"})
# Azure sizes whose feature letters include "p" run on Arm: Standard_D2ps_v5, Standard_B2pts_v2.
_AZURE_ARM_SIZE = re.compile(r"^Standard_[A-Z]+\d+[a-z]*p[a-z]*_v\d+$")
_ARCH_SPELLINGS = {
    "x86_64": "x86_64",
    "amd64": "x86_64",
    # SkyPilot lists the first architecture AWS reports; old types (c1.medium,
    # c3.large) report i386 first but run 64-bit x86 as well.
    "i386": "x86_64",
    "arm64": "arm64",
    "aarch64": "arm64",
}
# AWS names the GPU of g5g "T4g": a T4 for Graviton hosts.
_ACCELERATOR_ALIASES = {"t4g": "T4"}
_GPU_MIB = re.compile(r"'SizeInMiB':\s*(\d+)")
_NOTE = (
    "one offer per region: spot is the cheapest standard zone; "
    "the file has no date, so as_of is the import date"
)


def provider_for_region(region: str) -> str | None:
    """The cloud a region (or zone) name belongs to, from its spelling; None when unclear."""
    zone = zone_region(region)
    if zone is not None:
        # zone_region names the kind: "AWS availability zone", "GCP zone", ...
        return {"AWS": "aws", "GCP": "gcp", "Azure": "azure"}.get(zone[1].split()[0])
    for pattern, provider in _REGION_SPELLINGS:
        if pattern.match(region):
            return provider
    return None


def infer_arch(provider: str, instance_type: str) -> str:
    """ "arm64" or "x86_64" for an instance type, from the cloud's naming rules."""
    if provider == "aws" and aws_price_list.is_graviton_family(instance_type):
        return "arm64"
    if provider == "gcp" and instance_type.split("-")[0] in _GCP_ARM_FAMILIES:
        return "arm64"
    if provider == "azure" and _AZURE_ARM_SIZE.match(instance_type):
        return "arm64"
    return "x86_64"


def is_edge_zone(zone: str) -> bool:
    """Whether ``zone`` is an AWS Local Zone or Wavelength Zone rather than a standard zone."""
    return bool(_EDGE_ZONE.match(zone))


@register_importer
class SkyPilotVmsImporter:
    """SkyPilot's per-cloud vms.csv catalog (AWS, GCP or Azure)."""

    name = "skypilot-vms"
    description = (
        "SkyPilot catalog vms.csv (skypilot-org/skypilot-catalog; AWS, GCP or Azure): "
        "zone rows become one offer per region, spot = cheapest standard zone"
    )

    def detect(self, path: Path, head: str) -> bool:
        """Whether ``head`` starts with a vms.csv header."""
        columns = {column.strip() for column in head.partition("\n")[0].split(",")}
        return {"InstanceType", "Price", "Region"} <= columns

    def read(self, path: Path, *, provider: str | None = None) -> ImportResult:
        """Read the file; ``provider`` overrides the cloud told from region names.

        Raises CatalogImportError when the file cannot be read.
        """
        return _VmsFile(path.name, provider).parse(read_text(path))


@dataclass(frozen=True, slots=True)
class _ZoneRow:
    """One valid vms.csv row: a machine priced in one zone."""

    line: int
    zone: str
    row: dict[str, str]  # in mlcost's catalog format
    on_demand: float
    spot: float | None


@dataclass
class _SkippedRows:
    """Rows of one kind left out on purpose, reported as one warning."""

    count: int = 0
    first_line: int = 0
    first_example: str = ""

    def add(self, line: int, example: str) -> None:
        if not self.count:
            self.first_line, self.first_example = line, example
        self.count += 1


@dataclass
class _VmsFile:
    """One vms.csv being read: the issues so far and the rows left out."""

    name: str
    provider: str | None
    issues: list[Issue] = field(default_factory=list)
    attachable: _SkippedRows = field(default_factory=_SkippedRows)
    bundled: _SkippedRows = field(default_factory=_SkippedRows)
    unknown_accelerators: dict[str, _SkippedRows] = field(default_factory=dict)

    def parse(self, text: str) -> ImportResult:
        reader = csv.DictReader(io.StringIO(text))
        columns = [column.strip() for column in reader.fieldnames or []]
        missing = [column for column in _REQUIRED_COLUMNS if column not in columns]
        if missing:
            self._error(
                1,
                f"the header lacks column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
                "this is not a complete SkyPilot vms.csv",
            )
            return self._result(())
        reader.fieldnames = columns
        groups = self._zone_rows(reader, columns)
        located = [
            (offer, f"{self.name}:{rows[0].line}")
            for rows in groups.values()
            if (offer := self._offer(rows)) is not None
        ]
        self.issues.extend(find_duplicates(located))
        self._summarise_skips()
        return self._result(tuple(offer for offer, _ in located))

    def _zone_rows(
        self, reader: csv.DictReader[str], columns: list[str]
    ) -> dict[tuple[str, str, str], list[_ZoneRow]]:
        """The valid rows, grouped by (provider, region, instance type), in file order."""
        groups: dict[tuple[str, str, str], list[_ZoneRow]] = {}
        last_line = reader.line_num
        for raw in reader:
            line, last_line = last_line + 1, reader.line_num
            if None in raw:
                self._error(
                    line,
                    f"row has more fields than the {len(columns)} header columns; "
                    "quote values that contain commas",
                )
                continue
            zone_row = self._zone_row(line, raw)
            if zone_row is not None:
                key = (
                    zone_row.row["provider"],
                    zone_row.row["region"],
                    zone_row.row["instance_type"],
                )
                groups.setdefault(key, []).append(zone_row)
        return groups

    def _zone_row(self, line: int, raw: Mapping[str, str | None]) -> _ZoneRow | None:
        """The row validated in mlcost's format, or None when it is skipped or wrong."""
        instance_type = _cell(raw, "InstanceType")
        accelerator = _cell(raw, "AcceleratorName")
        if not instance_type:
            # GCP lists attachable GPUs and TPUs as rows without a machine.
            self.attachable.add(line, accelerator or "?")
            return None
        region = _cell(raw, "Region")
        provider = self.provider or provider_for_region(region)
        if provider is None:
            self._error(
                line,
                f"cannot tell the cloud from Region {region!r}; pass --provider aws, gcp or azure",
            )
            return None
        if provider == "gcp" and instance_type.split("-")[0] in _GCP_BUNDLED_GPU_FAMILIES:
            self.bundled.add(line, instance_type)
            return None
        canonical = _canonical_accelerator(accelerator)
        if accelerator and canonical is None:
            self.unknown_accelerators.setdefault(accelerator, _SkippedRows()).add(
                line, instance_type
            )
            return None
        row = self._catalog_row(raw, provider, instance_type, canonical)
        offer, issues = parse_offer_row(row, f"{self.name}:{line}", origin="imported")
        # Zone rows are only checked for errors; the per-region offer built from
        # them is validated again and its warnings are the ones reported.
        self.issues.extend(
            issue for issue in in_source_terms(issues, _SOURCE_NAMES) if issue.level == "error"
        )
        if offer is None:
            return None
        spot = row["spot_usd_per_hour"]
        return _ZoneRow(
            line,
            _cell(raw, "AvailabilityZone"),
            row,
            offer.on_demand_usd_per_hour,
            float(spot) if spot else None,
        )

    def _catalog_row(
        self,
        raw: Mapping[str, str | None],
        provider: str,
        instance_type: str,
        accelerator: str | None,
    ) -> dict[str, str]:
        arch = _cell(raw, "Arch")
        return {
            "provider": provider,
            "region": _cell(raw, "Region"),
            "instance_type": instance_type,
            "vcpus": _cell(raw, "vCPUs"),
            "memory_gib": _cell(raw, "MemoryGiB"),
            "accelerator": accelerator or "",
            "accelerator_count": _cell(raw, "AcceleratorCount") if accelerator else "",
            "accelerator_memory_gib": _gpu_memory_gib(_cell(raw, "GpuInfo")) if accelerator else "",
            "arch": _ARCH_SPELLINGS.get(arch, arch) or infer_arch(provider, instance_type),
            "on_demand_usd_per_hour": _cell(raw, "Price"),
            "spot_usd_per_hour": _cell(raw, "SpotPrice"),
            "source": f"imported from {self.name} (SkyPilot catalog vms.csv)",
            "note": _NOTE,
        }

    def _offer(self, rows: list[_ZoneRow]) -> Offer | None:
        """One region's offer from its zone rows; None when skipped or invalid."""
        first = rows[0]
        what = f"{first.row['instance_type']} in {first.row['region']}"
        standard = [row for row in rows if not is_edge_zone(row.zone)]
        if not standard:
            zones = ", ".join(row.zone for row in rows)
            self._warning(
                first.line, f"{what} is only listed in Local or Wavelength Zones ({zones}); skipped"
            )
            return None
        prices = sorted({row.on_demand for row in standard})
        if len(prices) > 1:
            self._warning(
                first.line,
                f"{what}: Price differs across zones ({prices[0]:g} to {prices[-1]:g}); "
                f"using the highest, {prices[-1]:g}",
            )
        spots = [row.spot for row in standard if row.spot is not None]
        row = dict(
            standard[0].row,
            on_demand_usd_per_hour=repr(prices[-1]),
            spot_usd_per_hour=repr(min(spots)) if spots else "",
        )
        offer, issues = parse_offer_row(row, f"{self.name}:{first.line}", origin="imported")
        self.issues.extend(in_source_terms(issues, _SOURCE_NAMES))
        return offer

    def _summarise_skips(self) -> None:
        if self.attachable.count:
            self._warning(
                self.attachable.first_line,
                f"{_rows(self.attachable.count)} without an InstanceType (GPUs and TPUs to attach, "
                f"first: {self.attachable.first_example}) skipped; mlcost prices whole machines",
            )
        if self.bundled.count:
            self._warning(
                self.bundled.first_line,
                f"{_rows(self.bundled.count)} of GCP machine types with built-in GPUs "
                f"(a2, a3, g2, ..., first: {self.bundled.first_example}) skipped: SkyPilot prices "
                "them without their GPUs; take these prices from another source",
            )
        for accelerator, skipped in self.unknown_accelerators.items():
            self._warning(
                skipped.first_line,
                f"{_rows(skipped.count)} with accelerator {accelerator!r}, which mlcost does "
                f"not know (first: {skipped.first_example}), skipped",
            )

    def _error(self, line: int, message: str) -> None:
        self.issues.append(Issue("error", f"{self.name}:{line}", message))

    def _warning(self, line: int, message: str) -> None:
        self.issues.append(Issue("warning", f"{self.name}:{line}", message))

    def _result(self, offers: tuple[Offer, ...]) -> ImportResult:
        return ImportResult(SkyPilotVmsImporter.name, offers, by_line(self.issues))


def _rows(count: int) -> str:
    return f"{count} row{'' if count == 1 else 's'}"


def _cell(raw: Mapping[str, str | None], column: str) -> str:
    return (raw.get(column) or "").strip()


def _canonical_accelerator(name: str) -> str | None:
    if not name:
        return None
    return _ACCELERATOR_ALIASES.get(name.lower()) or canonical_accelerator(name)


def _gpu_memory_gib(gpu_info: str) -> str:
    """Memory per accelerator in GiB from SkyPilot's GpuInfo; "" when it gives none.

    GpuInfo is a Python dict literal: "{'Gpus': [{... 'MemoryInfo': {'SizeInMiB': 16384}}], ...}".
    """
    match = _GPU_MIB.search(gpu_info)
    return f"{int(match.group(1)) / 1024:g}" if match else ""
