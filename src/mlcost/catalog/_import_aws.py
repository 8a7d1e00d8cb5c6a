"""Import the AWS Price List bulk offer file for Amazon EC2 ("aws-price-list").

The file is the one AWS publishes per region at
https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonEC2/current/REGION/index.json:

    {"formatVersion": "v1.0", "offerCode": "AmazonEC2", "version", "publicationDate",
     "products": {SKU: {"sku", "productFamily",
                        "attributes": {"instanceType", "vcpu", "memory", "regionCode",
                                       "operatingSystem", "tenancy", ...}}},
     "terms": {"OnDemand": {SKU: {TERM: {"priceDimensions": {
                   RATE: {"unit": "Hrs", "pricePerUnit": {"USD": "0.0850000000"}}}}}},
               "Reserved": {...}}}

Only plain Linux on-demand machines become offers. The file has no spot prices.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlcost.catalog._importers import (
    ImportResult,
    by_line,
    in_source_terms,
    read_text,
    register_importer,
)
from mlcost.catalog._rows import Issue, find_duplicates, parse_offer_row
from mlcost.core import CatalogImportError, Offer

# Graviton families: a generation digit then "g" (c6g, c6gn, m7gd, t4g, g5g, x2gd,
# im4gn, is4gen), plus a1, the first Graviton.
_GRAVITON_FAMILY = re.compile(r"^(?:a1|[a-z]+\d+g[a-z]*)$")

# The GPU each accelerated family carries; the count comes from the "gpu" attribute.
_GPU_FAMILIES: dict[str, str] = {
    "g4dn": "T4",
    "g5": "A10G",
    "g6": "L4",
    "g6e": "L40S",
    "g5g": "T4",  # NVIDIA T4G: a T4 for Graviton hosts
    "p3": "V100",
    "p3dn": "V100-32GB",
    "p4d": "A100-40GB",
    "p4de": "A100-80GB",
    "p5": "H100",
}
_NEURON_FAMILIES: dict[str, str] = {"inf1": "Inferentia", "inf2": "Inferentia2", "trn1": "Trainium"}
# Neuron chips per machine, from AWS's instance type pages: the Price List's
# "gpu" attribute counts GPUs, and is not relied on to count these chips.
_NEURON_CHIPS: dict[str, int] = {
    "inf1.xlarge": 1,
    "inf1.2xlarge": 1,
    "inf1.6xlarge": 4,
    "inf1.24xlarge": 16,
    "inf2.xlarge": 1,
    "inf2.8xlarge": 1,
    "inf2.24xlarge": 6,
    "inf2.48xlarge": 12,
    "trn1.2xlarge": 1,
    "trn1.32xlarge": 16,
}
# instanceFamily values of machines built around an accelerator: importing one
# we cannot name as a plain CPU machine would misprice it.
_ACCELERATED_KINDS = frozenset(
    {
        "GPU instance",
        "Machine Learning ASIC Instances",
        "FPGA Instances",
        "Media Accelerator Instances",
    }
)
# Plain Linux, shared hardware, no bundled software, an ordinary running instance.
_WANTED_ATTRIBUTES = {
    "operatingSystem": "Linux",
    "tenancy": "Shared",
    "preInstalledSw": "NA",
    "capacitystatus": "Used",
    "licenseModel": "No License required",
    "marketoption": "OnDemand",
}
# Attributes older offer files do not have; a missing one does not exclude a product.
_OPTIONAL_ATTRIBUTES = frozenset({"capacitystatus", "licenseModel", "marketoption"})
_MEMORY_GIB = re.compile(r"^\s*([\d.,]+)\s*GiB\s*$")
_SOURCE_NAMES = {
    "on_demand_usd_per_hour": "pricePerUnit USD",
    "memory_gib": "memory",
    "vcpus": "vcpu",
    "instance_type": "instanceType",
}


def is_graviton_family(instance_type: str) -> bool:
    """Whether an EC2 instance type ("c7g.large") runs on an Arm Graviton processor."""
    return bool(_GRAVITON_FAMILY.match(instance_type.split(".")[0]))


def aws_accelerator(instance_type: str, gpu_attribute: str) -> tuple[str, int] | None:
    """(canonical accelerator, count) for an EC2 instance type, or None when it has none we know.

    ``gpu_attribute`` is the Price List's "gpu" value ("1", "8", "" when absent).
    """
    family = instance_type.split(".")[0]
    if family in _NEURON_FAMILIES and instance_type in _NEURON_CHIPS:
        return _NEURON_FAMILIES[family], _NEURON_CHIPS[instance_type]
    count = _whole_number(gpu_attribute)
    if family in _GPU_FAMILIES and count:
        return _GPU_FAMILIES[family], count
    return None


@register_importer
class AwsPriceListImporter:
    """The AWS Price List bulk offer file for EC2, one region per file."""

    name = "aws-price-list"
    description = (
        "AWS Price List bulk offer file for Amazon EC2 (per-region index.json); "
        "Linux on-demand prices, no spot prices"
    )

    def detect(self, path: Path, head: str) -> bool:
        """Whether ``head`` starts a JSON offer file for AmazonEC2."""
        return head.lstrip().startswith("{") and '"offerCode"' in head and '"AmazonEC2"' in head

    def read(self, path: Path, *, provider: str | None = None) -> ImportResult:
        """Read the offer file.

        Raises CatalogImportError when it cannot be read or ``provider`` is not "aws".
        """
        if provider not in (None, "aws"):
            raise CatalogImportError(
                f"{path.name} is an AWS Price List file; --provider {provider} does not apply to it"
            )
        text = read_text(path)
        return _OfferFile(path.name, text).parse()


@dataclass
class _OfferFile:
    """One offer file being read: its text, and the issues found so far."""

    name: str
    text: str
    issues: list[Issue] = field(default_factory=list)
    edge_locations: int = 0
    unpriced: list[str] = field(default_factory=list)

    def parse(self) -> ImportResult:
        # The stdlib json module holds the whole file in memory: fine for the
        # per-region EC2 file (hundreds of MB); the all-regions file is several
        # GB, which is why users should download the per-region one.
        try:
            data = json.loads(self.text)
        except json.JSONDecodeError as exc:
            self._error(
                exc.lineno,
                f"not valid JSON: {exc.msg} (column {exc.colno}); download the file again",
            )
            return self._result(())
        products, on_demand = self._sections(data)
        if products is None or on_demand is None:
            return self._result(())
        located = self._offers(data, products, on_demand)
        self.issues.extend(find_duplicates(located))
        self._summarise_skips()
        return self._result(tuple(offer for offer, _ in located))

    def _sections(self, data: Any) -> tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]:
        if not isinstance(data, dict):
            self._error(1, "not an AWS Price List offer file: the top level is not a JSON object")
            return None, None
        if data.get("offerCode") != "AmazonEC2":
            self._error(
                1,
                f"offer file is for {data.get('offerCode')!r}, not AmazonEC2; "
                "download .../offers/v1.0/aws/AmazonEC2/current/REGION/index.json",
            )
            return None, None
        products = data.get("products")
        terms = data.get("terms")
        on_demand = terms.get("OnDemand") if isinstance(terms, dict) else None
        if not isinstance(products, dict) or not isinstance(on_demand, dict):
            self._error(
                1, "offer file has no products or no OnDemand terms; download the file again"
            )
            return None, None
        return products, on_demand

    def _offers(
        self, data: Mapping[str, Any], products: Mapping[str, Any], on_demand: Mapping[str, Any]
    ) -> list[tuple[Offer, str]]:
        provenance = _Provenance.of(self.name, data)
        lines = _SkuLines(self.text)
        located: list[tuple[Offer, str]] = []
        for sku, product in products.items():
            if not _is_plain_linux_machine(product):
                continue
            attributes: Mapping[str, Any] = product.get("attributes", {})
            if attributes.get("locationType", "AWS Region") != "AWS Region":
                self.edge_locations += 1
                continue
            line = lines.line_of(sku)
            offer = self._offer(line, attributes, on_demand.get(sku), provenance)
            if offer is not None:
                located.append((offer, f"{self.name}:{line}"))
        return located

    def _offer(
        self, line: int, attributes: Mapping[str, Any], terms: Any, provenance: _Provenance
    ) -> Offer | None:
        instance_type = str(attributes.get("instanceType", ""))
        price = _hourly_usd(terms)
        if price is None or _is_zero(price):
            self.unpriced.append(instance_type)
            return None
        accelerator = self._accelerator(line, instance_type, attributes)
        if accelerator is None:
            return None
        row = {
            "provider": "aws",
            "region": str(attributes.get("regionCode", "")),
            "instance_type": instance_type,
            "vcpus": str(attributes.get("vcpu", "")),
            "memory_gib": _memory_gib(str(attributes.get("memory", ""))),
            "accelerator": accelerator[0],
            "accelerator_count": str(accelerator[1]) if accelerator[0] else "",
            "arch": _arch(instance_type, attributes),
            "on_demand_usd_per_hour": price,
            "as_of": provenance.as_of,
            "source": provenance.source,
            "note": "on-demand only: the AWS Price List has no spot prices",
        }
        offer, issues = parse_offer_row(row, f"{self.name}:{line}", origin="imported")
        self.issues.extend(in_source_terms(issues, _SOURCE_NAMES))
        return offer

    def _accelerator(
        self, line: int, instance_type: str, attributes: Mapping[str, Any]
    ) -> tuple[str, int] | None:
        """("", 0) for a plain machine, (name, count) for a known accelerator, None to skip."""
        gpu = str(attributes.get("gpu", ""))
        known = aws_accelerator(instance_type, gpu)
        if known is not None:
            return known
        if _whole_number(gpu) or attributes.get("instanceFamily") in _ACCELERATED_KINDS:
            family = instance_type.split(".")[0]
            kind = attributes.get("instanceFamily", f"gpu {gpu}")
            self._warning(
                line,
                f"{instance_type}: no accelerator mlcost knows for the {family} family "
                f"({kind}); skipped",
            )
            return None
        return "", 0

    def _summarise_skips(self) -> None:
        if self.edge_locations:
            self._warning(
                1,
                f"{_linux_products(self.edge_locations)} in Local Zones, Wavelength Zones or "
                "Outposts skipped; mlcost prices regions",
            )
        if self.unpriced:
            self._warning(
                1,
                f"{_linux_products(len(self.unpriced))} without an hourly on-demand USD price "
                f"skipped (first: {self.unpriced[0]})",
            )

    def _error(self, line: int, message: str) -> None:
        self.issues.append(Issue("error", f"{self.name}:{line}", message))

    def _warning(self, line: int, message: str) -> None:
        self.issues.append(Issue("warning", f"{self.name}:{line}", message))

    def _result(self, offers: tuple[Offer, ...]) -> ImportResult:
        return ImportResult(AwsPriceListImporter.name, offers, by_line(self.issues))


@dataclass(frozen=True, slots=True)
class _Provenance:
    """Where the offers of one file come from, in catalog-row form."""

    source: str
    as_of: str  # the file's publicationDate as YYYY-MM-DD; "" when absent

    @classmethod
    def of(cls, name: str, data: Mapping[str, Any]) -> _Provenance:
        published = str(data.get("publicationDate", ""))
        source = (
            f"imported from {name} (AWS Price List AmazonEC2 offer file, "
            f"version {data.get('version', '?')}, published {published or '?'})"
        )
        # parse_offer_row reads the date part and reports a malformed one.
        return cls(source, published[:10])


class _SkuLines:
    """Line numbers of products in the file text, found by searching the text.

    json.loads keeps no positions. Products come in file order, so each search
    starts where the last one ended and the whole file is scanned once.
    """

    def __init__(self, text: str) -> None:
        self._text = text
        self._cursor = 0
        self._line = 1

    def line_of(self, sku: str) -> int:
        """The line where the product ``sku`` opens (its key followed by "{"); 1 if not found."""
        # Searching for the bare SKU would also hit "instancesku" attributes of
        # earlier products, which name other SKUs.
        pattern = re.compile(re.escape(f'"{sku}"') + r"\s*:\s*\{")
        match = pattern.search(self._text, self._cursor)
        if match is None:
            match = pattern.search(self._text)
            if match is None:
                return 1
            return self._text.count("\n", 0, match.start()) + 1
        self._line += self._text.count("\n", self._cursor, match.start())
        self._cursor = match.start()
        return self._line


def _is_plain_linux_machine(product: Any) -> bool:
    if not isinstance(product, dict):
        return False
    # "Compute Instance (bare metal)" is a machine too.
    if not str(product.get("productFamily", "")).startswith("Compute Instance"):
        return False
    attributes = product.get("attributes")
    if not isinstance(attributes, dict):
        return False
    for key, wanted in _WANTED_ATTRIBUTES.items():
        value = attributes.get(key)
        if value is None and key in _OPTIONAL_ATTRIBUTES:
            continue
        if value != wanted:
            return False
    return True


def _hourly_usd(terms: Any) -> str | None:
    """The USD price per hour in a SKU's OnDemand terms, as written; None when there is none."""
    if not isinstance(terms, dict):
        return None
    for term in terms.values():
        dimensions = term.get("priceDimensions", {}) if isinstance(term, dict) else {}
        for dimension in dimensions.values():
            price = dimension.get("pricePerUnit", {}) if isinstance(dimension, dict) else {}
            if dimension.get("unit") == "Hrs" and "USD" in price:
                return str(price["USD"])
    return None


def _is_zero(price: str) -> bool:
    try:
        return float(price) == 0
    except ValueError:
        return False  # not a number: parse_offer_row reports it


def _memory_gib(memory: str) -> str:
    """ "4 GiB" -> "4"; anything else is passed on for parse_offer_row to report."""
    match = _MEMORY_GIB.match(memory)
    return match.group(1).replace(",", "") if match else memory


def _arch(instance_type: str, attributes: Mapping[str, Any]) -> str:
    processor = str(attributes.get("physicalProcessor", "")).lower()
    architecture = str(attributes.get("processorArchitecture", "")).lower()
    if "graviton" in processor or "arm" in architecture or is_graviton_family(instance_type):
        return "arm64"
    return "x86_64"


def _linux_products(count: int) -> str:
    return f"{count} Linux product{'' if count == 1 else 's'}"


def _whole_number(text: str) -> int:
    try:
        value = float(text)
    except ValueError:
        return 0
    return int(value) if value > 0 and value == int(value) else 0
