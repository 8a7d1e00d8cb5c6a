"""Importing other tools' price files: the plugin contract, SkyPilot vms.csv, AWS Price List.

Fixtures in fixtures/ are small files in the real formats with real figures:

* skypilot-*.csv rows are copied verbatim from skypilot-org/skypilot-catalog,
  catalogs/v8/aws/vms.csv @00148f2a and catalogs/v6/gcp/vms.csv @0489582;
  the malformed variants edit one cell of such rows.
* aws-price-list-*.json is a hand-trimmed AmazonEC2 offer file in AWS's layout
  with the us-east-1 on-demand figures of /work/shared/data/reference/prices.csv
  (Karpenter's table, 2026-07-20). Its SKUs are made up, and the Windows and
  Dedicated products carry the Linux price on purpose: if a filter let one
  through, the import would fail with a duplicate offer.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from mlcost.catalog._accelerators import KNOWN_ACCELERATORS
from mlcost.catalog._import_aws import _GPU_FAMILIES, _NEURON_FAMILIES, aws_accelerator
from mlcost.catalog._import_skypilot import infer_arch, is_edge_zone, provider_for_region
from mlcost.catalog._importers import (
    IMPORTERS,
    CatalogImporter,
    ImportResult,
    MalformedPriceFile,
    read_price_file,
    register_importer,
)
from mlcost.catalog._rows import offer_to_row, parse_offer_row
from mlcost.core import CatalogImportError, Offer

FIXTURES = Path(__file__).parent / "fixtures"
SKYPILOT_AWS = FIXTURES / "skypilot-aws-vms.csv"
SKYPILOT_GCP = FIXTURES / "skypilot-gcp-vms.csv"
AWS_PRICE_LIST = FIXTURES / "aws-price-list-us-east-1.json"
# Each registered importer's own fixture; a new importer needs one here.
OWN_FIXTURE = {"skypilot-vms": SKYPILOT_AWS, "aws-price-list": AWS_PRICE_LIST}
TODAY = date(2026, 11, 28)


def _by_key(result: ImportResult) -> dict[tuple[str, str, str], Offer]:
    return {offer.key: offer for offer in result.offers}


def _edited(tmp_path: Path, fixture: Path, edit: Callable[[str], str], name: str = "") -> Path:
    """A copy of ``fixture`` in tmp_path with ``edit`` applied to its text."""
    text = fixture.read_text(encoding="utf-8")
    changed = edit(text)
    assert changed != text, "the edit did not apply"
    path = tmp_path / (name or fixture.name)
    path.write_text(changed, encoding="utf-8")
    return path


def _import_error(path: Path, **kwargs: object) -> CatalogImportError:
    with pytest.raises(CatalogImportError) as caught:
        read_price_file(path, **kwargs)  # type: ignore[arg-type]
    message = str(caught.value)
    assert "\n" not in message, "CLI messages must be one line"
    return caught.value


# --- the plugin contract: every registered importer ------------------------------


@pytest.mark.parametrize("importer", list(IMPORTERS.values()), ids=list(IMPORTERS))
def test_importer_contract(importer: CatalogImporter) -> None:
    assert importer.name and importer.description
    assert IMPORTERS[importer.name] is importer
    own = OWN_FIXTURE[importer.name]
    assert importer.detect(own, own.read_text(encoding="utf-8")[:4096])
    for other in set(OWN_FIXTURE.values()) - {own}:
        assert not importer.detect(other, other.read_text(encoding="utf-8")[:4096])

    result = importer.read(own)

    assert result.format == importer.name
    assert result.offers and not result.errors
    for offer in result.offers:
        assert offer.origin == "imported"
        again, issues = parse_offer_row(offer_to_row(offer), "re-check", origin="imported")
        assert again is not None and not [i for i in issues if i.level == "error"], issues
        assert again.key == offer.key
        assert again.on_demand_usd_per_hour == offer.on_demand_usd_per_hour
        assert again.spot_usd_per_hour == offer.spot_usd_per_hour


def test_register_importer_adds_an_instance_and_rejects_a_taken_name() -> None:
    class Fake:
        name = "fake-format"
        description = "a format for this test"

        def detect(self, path: Path, head: str) -> bool:
            return False

        def read(self, path: Path, *, provider: str | None = None) -> ImportResult:
            return ImportResult(self.name, (), ())

    try:
        assert register_importer(Fake) is Fake
        assert isinstance(IMPORTERS["fake-format"], Fake)
        with pytest.raises(ValueError, match="fake-format"):
            register_importer(Fake)
    finally:
        IMPORTERS.pop("fake-format", None)


# --- SkyPilot vms.csv ---------------------------------------------------------------


def test_skypilot_zone_rows_become_one_offer_per_region() -> None:
    result = read_price_file(SKYPILOT_AWS, today=TODAY)

    assert result.format == "skypilot-vms"
    assert set(_by_key(result)) == {
        ("aws", "eu-west-1", "c6i.large"),
        ("aws", "us-east-1", "c6i.large"),
        ("aws", "us-west-2", "c7g.large"),
        ("aws", "us-east-1", "g4dn.xlarge"),
        ("aws", "us-west-2", "g4dn.xlarge"),
    }


def test_skypilot_spot_is_the_cheapest_standard_zone_and_local_zones_are_ignored() -> None:
    offers = _by_key(read_price_file(SKYPILOT_AWS, today=TODAY))

    c6i = offers[("aws", "us-east-1", "c6i.large")]
    # Standard zones 0.0385, 0.0379, 0.0469, 0.0364, 0.0368; the Atlanta Local Zone's 0.012 is out.
    assert c6i.spot_usd_per_hour == 0.0364
    assert c6i.on_demand_usd_per_hour == 0.085
    # us-west-2: 0.2464, 0.2479, 0.2386; Los Angeles Local Zones 0.0631 and 0.0723 are out.
    assert offers[("aws", "us-west-2", "g4dn.xlarge")].spot_usd_per_hour == 0.2386
    assert offers[("aws", "us-east-1", "g4dn.xlarge")].spot_usd_per_hour == 0.2
    single = offers[("aws", "eu-west-1", "c6i.large")]
    assert (single.on_demand_usd_per_hour, single.spot_usd_per_hour) == (0.0912, 0.0503)


def test_skypilot_reads_machine_accelerator_and_provenance() -> None:
    offers = _by_key(read_price_file(SKYPILOT_AWS, today=TODAY))

    g4dn = offers[("aws", "us-east-1", "g4dn.xlarge")]
    assert (g4dn.accelerator_name, g4dn.accelerator_count) == ("T4", 1)
    assert g4dn.accelerator_memory_gib == 16  # GpuInfo SizeInMiB 16384
    assert (g4dn.vcpus, g4dn.memory_gib, g4dn.arch) == (4, 16, "x86_64")
    assert offers[("aws", "us-west-2", "c7g.large")].arch == "arm64"
    assert g4dn.as_of == TODAY and g4dn.spot_seen_on is None
    assert g4dn.source == "imported from skypilot-aws-vms.csv (SkyPilot catalog vms.csv)"
    assert "import date" in g4dn.note


def test_skypilot_unknown_accelerator_rows_are_skipped_with_a_warning() -> None:
    result = read_price_file(SKYPILOT_AWS, today=TODAY)

    assert not [key for key in _by_key(result) if key[2].startswith("g4ad")]
    (warning,) = result.warnings
    assert warning.where == "skypilot-aws-vms.csv:10"
    assert "Radeon Pro V520" in warning.message and "skipped" in warning.message


def test_skypilot_gcp_skips_attachable_gpus_and_gpu_bundled_machine_types() -> None:
    result = read_price_file(SKYPILOT_GCP, today=TODAY)
    offers = _by_key(result)

    assert set(offers) == {
        ("gcp", "europe-west4", "n2-standard-2"),
        ("gcp", "us-central1", "n2-standard-2"),
        ("gcp", "us-central1", "t2a-standard-2"),
    }
    n2 = offers[("gcp", "us-central1", "n2-standard-2")]
    assert (n2.on_demand_usd_per_hour, n2.spot_usd_per_hour) == (0.09712, 0.02848)
    assert offers[("gcp", "us-central1", "t2a-standard-2")].arch == "arm64"
    bundled, attachable = result.warnings
    # g2 rows carry the host price only (0.14679 + L4 0.56004 is the machine's 0.70683).
    assert bundled.where == "skypilot-gcp-vms.csv:2"
    assert "3 rows" in bundled.message and "g2-standard-4" in bundled.message
    assert attachable.where == "skypilot-gcp-vms.csv:12"
    assert "1 row without an InstanceType" in attachable.message


def test_skypilot_azure_rows_without_zones_infer_provider_and_arm(tmp_path: Path) -> None:
    # Azure's header as published (catalogs/v6/azure/vms.csv); figures from prices.csv.
    path = tmp_path / "azure-vms.csv"
    path.write_text(
        "InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,"
        "Region,Generation\n"
        "Standard_D2ps_v5,,,2.0,8,,0.077,0.00847,eastus,\n"
        "Standard_D2s_v5,,,2.0,8,,0.096,0.01056,eastus,\n",
        encoding="utf-8",
    )

    offers = _by_key(read_price_file(path, today=TODAY))

    assert offers[("azure", "eastus", "Standard_D2ps_v5")].arch == "arm64"
    assert offers[("azure", "eastus", "Standard_D2s_v5")].arch == "x86_64"
    assert offers[("azure", "eastus", "Standard_D2ps_v5")].spot_usd_per_hour == 0.00847


def test_skypilot_infers_arch_when_the_file_has_no_arch_column(tmp_path: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(SKYPILOT_AWS.read_text(encoding="utf-8"))))
    out = io.StringIO()
    writer = csv.DictWriter(out, [column for column in rows[0] if column != "Arch"])
    writer.writeheader()
    writer.writerows({k: v for k, v in row.items() if k != "Arch"} for row in rows)
    path = tmp_path / "old-vms.csv"
    path.write_text(out.getvalue(), encoding="utf-8")

    offers = _by_key(read_price_file(path, today=TODAY))

    assert offers[("aws", "us-west-2", "c7g.large")].arch == "arm64"
    assert offers[("aws", "us-east-1", "c6i.large")].arch == "x86_64"


@pytest.mark.parametrize(
    ("provider", "instance_type", "arch"),
    [
        ("aws", "c7g.large", "arm64"),
        ("aws", "m7g.xlarge", "arm64"),
        ("aws", "r7g.large", "arm64"),
        ("aws", "c8g.large", "arm64"),
        ("aws", "t4g.micro", "arm64"),
        ("aws", "m6g.large", "arm64"),
        ("aws", "c6gn.large", "arm64"),
        ("aws", "g5g.xlarge", "arm64"),
        ("aws", "a1.large", "arm64"),
        ("aws", "c6i.large", "x86_64"),
        ("aws", "g4dn.xlarge", "x86_64"),
        ("aws", "g6e.xlarge", "x86_64"),
        ("aws", "m7i-flex.large", "x86_64"),
        ("gcp", "t2a-standard-2", "arm64"),
        ("gcp", "c4a-standard-4", "arm64"),
        ("gcp", "n2-standard-2", "x86_64"),
        ("azure", "Standard_D2ps_v5", "arm64"),
        ("azure", "Standard_B2pts_v2", "arm64"),
        ("azure", "Standard_D2s_v5", "x86_64"),
        ("azure", "Standard_NC4as_T4_v3", "x86_64"),
    ],
)
def test_infer_arch(provider: str, instance_type: str, arch: str) -> None:
    assert infer_arch(provider, instance_type) == arch


@pytest.mark.parametrize(
    ("region", "provider"),
    [
        ("us-east-1", "aws"),
        ("us-gov-west-1", "aws"),
        ("us-central1", "gcp"),
        ("europe-west4", "gcp"),
        ("northamerica-northeast1", "gcp"),
        ("eastus", "azure"),
        ("westeurope", "azure"),
        ("eastus2", "azure"),
        ("us-east-1a", "aws"),  # a zone: the provider still shows, the zone error follows
        ("use1-az1", "aws"),
        ("US East", None),
    ],
)
def test_provider_for_region(region: str, provider: str | None) -> None:
    assert provider_for_region(region) == provider


@pytest.mark.parametrize(
    ("zone", "edge"),
    [
        ("use1-az1", False),
        ("us-east-1a", False),
        ("us-central1-a", False),
        ("use1-atl2-az1", True),
        ("usw2-lax1-az2", True),
        ("us-east-1-atl-2a", True),
        ("us-east-1-wl1-atl-wlz-1", True),
        ("", False),
    ],
)
def test_is_edge_zone(zone: str, edge: bool) -> None:
    assert is_edge_zone(zone) is edge


def test_skypilot_takes_the_highest_on_demand_price_when_zones_differ(tmp_path: Path) -> None:
    # One us-east-1 row given the eu-west-1 price, to make the zones disagree.
    path = _edited(
        tmp_path,
        SKYPILOT_AWS,
        lambda text: text.replace(
            ",0.085,0.046900,us-east-1,use1-az4", ",0.0912,0.046900,us-east-1,use1-az4"
        ),
    )

    result = read_price_file(path, today=TODAY)

    assert _by_key(result)[("aws", "us-east-1", "c6i.large")].on_demand_usd_per_hour == 0.0912
    (differs,) = [w for w in result.warnings if "differs" in w.message]
    assert differs.where == "skypilot-aws-vms.csv:3"
    assert "0.085 to 0.0912" in differs.message


def test_skypilot_drops_a_spot_price_that_is_no_discount(tmp_path: Path) -> None:
    # a1.large in us-east-1 lists spot = on-demand in every zone (catalogs/v8/aws @00148f2a).
    path = tmp_path / "vms.csv"
    path.write_text(
        "InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,"
        "Region,AvailabilityZone,Arch\n"
        "a1.large,,,2.0,4.0,,0.051,0.051000,us-east-1,use1-az2,arm64\n"
        "a1.large,,,2.0,4.0,,0.051,0.051000,us-east-1,use1-az4,arm64\n",
        encoding="utf-8",
    )

    result = read_price_file(path, today=TODAY)

    (offer,) = result.offers
    assert offer.spot_usd_per_hour is None
    (warning,) = result.warnings
    assert "no spot discount" in warning.message and warning.where == "vms.csv:2"


def test_skypilot_machine_only_in_local_zones_gives_no_offers(tmp_path: Path) -> None:
    path = tmp_path / "vms.csv"
    lines = SKYPILOT_AWS.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([lines[0], lines[2]]) + "\n", encoding="utf-8")

    error = _import_error(path, today=TODAY)

    assert str(error).startswith("no offers found in vms.csv;")
    assert isinstance(error, MalformedPriceFile)
    assert "only listed in Local or Wavelength Zones" in error.issues[0].message


def test_skypilot_bad_price_names_file_line_and_column() -> None:
    error = _import_error(FIXTURES / "skypilot-bad-price.csv")

    assert str(error) == "skypilot-bad-price.csv:3: Price must be a number, got '$0.085'"
    assert isinstance(error, MalformedPriceFile)
    assert [issue.where for issue in error.issues] == ["skypilot-bad-price.csv:3"]


def test_skypilot_region_that_is_a_zone_is_an_error() -> None:
    error = _import_error(FIXTURES / "skypilot-zone-region.csv")

    assert str(error).startswith("skypilot-zone-region.csv:3: region 'us-east-1a' is an AWS")
    assert "use 'us-east-1'" in str(error)


def test_skypilot_missing_header_column_is_one_error_on_line_1(tmp_path: Path) -> None:
    path = _edited(tmp_path, SKYPILOT_AWS, lambda text: text.replace(",SpotPrice,", ",Spot,", 1))

    error = _import_error(path)

    assert str(error).startswith("skypilot-aws-vms.csv:1: the header lacks column SpotPrice;")
    assert isinstance(error, MalformedPriceFile) and len(error.issues) == 1


def test_skypilot_counts_the_errors_after_the_first(tmp_path: Path) -> None:
    path = _edited(
        tmp_path,
        FIXTURES / "skypilot-bad-price.csv",
        lambda text: text.replace("2.0,4.0,,0.085,0.036400", "-2.0,4.0,,0.085,0.036400"),
    )

    error = _import_error(path)

    assert str(error) == (
        "skypilot-bad-price.csv:3: Price must be a number, got '$0.085' (and 1 more error)"
    )
    assert isinstance(error, MalformedPriceFile)
    assert "vCPUs must be a finite number >= 0" in error.issues[1].message
    assert error.issues[1].where == "skypilot-bad-price.csv:4"


def test_skypilot_row_with_extra_fields_is_an_error(tmp_path: Path) -> None:
    # An unquoted GpuInfo spills its commas into extra fields.
    path = _edited(tmp_path, SKYPILOT_AWS, lambda text: text.replace('"{', "{").replace('}"', "}"))

    error = _import_error(path)

    assert str(error).startswith("skypilot-aws-vms.csv:10: row has more fields than the 11 header")


def test_skypilot_unknown_region_spelling_asks_for_provider(tmp_path: Path) -> None:
    path = _edited(
        tmp_path,
        FIXTURES / "skypilot-zone-region.csv",
        lambda t: t.replace("us-east-1a", "US East"),
    )

    error = _import_error(path)

    assert "cannot tell the cloud from Region 'US East'; pass --provider" in str(error)


def test_skypilot_handles_a_byte_order_mark_and_crlf_line_ends(tmp_path: Path) -> None:
    text = (FIXTURES / "skypilot-bad-price.csv").read_text(encoding="utf-8")
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))

    error = _import_error(path)

    assert str(error).startswith("excel.csv:3: Price must be a number")


# --- AWS Price List offer file ------------------------------------------------------


def test_aws_keeps_only_linux_shared_on_demand_machines() -> None:
    result = read_price_file(AWS_PRICE_LIST, today=TODAY)
    offers = _by_key(result)

    assert result.format == "aws-price-list"
    # The Windows g4dn.xlarge and the Dedicated c6i.large are filtered out: had
    # either come through, it would clash with its Linux twin as a duplicate.
    assert set(offers) == {
        ("aws", "us-east-1", "c6i.large"),
        ("aws", "us-east-1", "g4dn.xlarge"),
        ("aws", "us-east-1", "c7g.large"),
    }
    assert offers[("aws", "us-east-1", "c6i.large")].on_demand_usd_per_hour == 0.085
    assert offers[("aws", "us-east-1", "g4dn.xlarge")].on_demand_usd_per_hour == 0.526
    assert offers[("aws", "us-east-1", "c7g.large")].on_demand_usd_per_hour == 0.0725
    assert all(offer.spot_usd_per_hour is None for offer in offers.values())
    assert not result.issues


def test_aws_reads_machine_accelerator_arch_and_publication_date() -> None:
    offers = _by_key(read_price_file(AWS_PRICE_LIST, today=TODAY))

    g4dn = offers[("aws", "us-east-1", "g4dn.xlarge")]
    assert (g4dn.accelerator_name, g4dn.accelerator_count, g4dn.vcpus, g4dn.memory_gib) == (
        "T4",
        1,
        4,
        16,
    )
    c6i = offers[("aws", "us-east-1", "c6i.large")]
    assert (c6i.accelerator_name, c6i.arch) == (None, "x86_64")
    assert offers[("aws", "us-east-1", "c7g.large")].arch == "arm64"  # AWS Graviton3 Processor
    assert c6i.as_of == date(2026, 7, 20)  # the file's publicationDate, not today
    assert c6i.source == (
        "imported from aws-price-list-us-east-1.json (AWS Price List AmazonEC2 offer file, "
        "version 20260720134430, published 2026-07-20T13:44:30Z)"
    )


@pytest.mark.parametrize(
    ("instance_type", "gpu", "expected"),
    [
        ("g4dn.xlarge", "1", ("T4", 1)),
        ("g5.xlarge", "1", ("A10G", 1)),
        ("g6.xlarge", "1", ("L4", 1)),
        ("g6e.xlarge", "1", ("L40S", 1)),
        ("g5g.xlarge", "1", ("T4", 1)),
        ("p3.2xlarge", "1", ("V100", 1)),
        ("p3dn.24xlarge", "8", ("V100-32GB", 8)),
        ("p4d.24xlarge", "8", ("A100-40GB", 8)),
        ("p4de.24xlarge", "8", ("A100-80GB", 8)),
        ("p5.48xlarge", "8", ("H100", 8)),
        ("inf1.6xlarge", "", ("Inferentia", 4)),
        ("inf2.48xlarge", "", ("Inferentia2", 12)),
        ("trn1.32xlarge", "", ("Trainium", 16)),
        ("g4ad.xlarge", "1", None),
        ("c6i.large", "", None),
        ("g4dn.xlarge", "", None),
    ],
)
def test_aws_accelerator_from_family(
    instance_type: str, gpu: str, expected: tuple[str, int] | None
) -> None:
    assert aws_accelerator(instance_type, gpu) == expected


def test_aws_family_tables_name_only_known_accelerators() -> None:
    assert set(_GPU_FAMILIES.values()) | set(_NEURON_FAMILIES.values()) <= set(KNOWN_ACCELERATORS)


def test_aws_gpu_machine_of_unknown_family_is_skipped_with_a_warning(tmp_path: Path) -> None:
    path = _edited(
        tmp_path,
        AWS_PRICE_LIST,
        lambda text: text.replace(
            '"instanceType" : "g4dn.xlarge"', '"instanceType" : "g4ad.xlarge"'
        ),
    )

    result = read_price_file(path, today=TODAY)

    assert ("aws", "us-east-1", "g4ad.xlarge") not in _by_key(result)
    assert len(result.offers) == 2
    (warning,) = result.warnings
    assert warning.where == "aws-price-list-us-east-1.json:68"
    assert "g4ad" in warning.message and "skipped" in warning.message


def test_aws_local_zone_and_unpriced_products_are_skipped_with_a_warning(tmp_path: Path) -> None:
    def edit(text: str) -> str:
        local = text.replace(
            '"locationType" : "AWS Region",\n        "instanceType" : "c7g.large"',
            '"locationType" : "AWS Local Zone",\n        "instanceType" : "c7g.large"',
        )
        return local.replace('"USD" : "0.0850000000"', '"USD" : "0.0000000000"', 1)

    result = read_price_file(_edited(tmp_path, AWS_PRICE_LIST, edit), today=TODAY)

    assert set(_by_key(result)) == {("aws", "us-east-1", "g4dn.xlarge")}
    messages = [warning.message for warning in result.warnings]
    assert any(m.startswith("1 Linux product in Local Zones") for m in messages)
    assert any(
        m.startswith("1 Linux product without an hourly on-demand USD price") and "c6i.large" in m
        for m in messages
    )


def test_aws_bad_price_is_located_at_its_product(tmp_path: Path) -> None:
    path = _edited(tmp_path, AWS_PRICE_LIST, lambda t: t.replace('"0.0725000000"', '"abc"'))

    error = _import_error(path)

    assert (
        str(error)
        == "aws-price-list-us-east-1.json:128: pricePerUnit USD must be a number, got 'abc'"
    )


def test_aws_json_syntax_error_names_the_line() -> None:
    error = _import_error(FIXTURES / "aws-price-list-bad.json")

    assert str(error).startswith(
        "aws-price-list-bad.json:11: not valid JSON: Expecting ',' delimiter"
    )


def test_aws_bad_memory_is_located_at_its_product() -> None:
    error = _import_error(FIXTURES / "aws-price-list-bad-memory.json")

    assert str(error) == "aws-price-list-bad-memory.json:8: memory must be a number, got 'lots'"


def test_aws_offer_file_of_another_service_is_refused(tmp_path: Path) -> None:
    path = _edited(
        tmp_path,
        AWS_PRICE_LIST,
        lambda t: t.replace('"offerCode" : "AmazonEC2"', '"offerCode" : "AmazonS3"'),
    )

    error = _import_error(path, format="aws-price-list")

    assert str(error).startswith("aws-price-list-us-east-1.json:1: offer file is for 'AmazonS3'")


def test_aws_refuses_another_provider() -> None:
    error = _import_error(AWS_PRICE_LIST, provider="gcp")

    assert "--provider gcp does not apply" in str(error)


# --- read_price_file: picking the format, reading the file -------------------------


@pytest.mark.parametrize(
    ("fixture", "format"),
    [
        (SKYPILOT_AWS, "skypilot-vms"),
        (SKYPILOT_GCP, "skypilot-vms"),
        (AWS_PRICE_LIST, "aws-price-list"),
    ],
)
def test_format_is_detected_from_content(tmp_path: Path, fixture: Path, format: str) -> None:
    renamed = tmp_path / "prices.txt"
    renamed.write_bytes(fixture.read_bytes())

    assert read_price_file(renamed, today=TODAY).format == format


def test_explicit_format_is_used(tmp_path: Path) -> None:
    assert read_price_file(SKYPILOT_AWS, format="skypilot-vms", today=TODAY).offers
    error = _import_error(SKYPILOT_AWS, format="aws-price-list")
    assert str(error).startswith("skypilot-aws-vms.csv:1: not valid JSON")


def test_unknown_format_lists_the_known_ones() -> None:
    error = _import_error(SKYPILOT_AWS, format="csv")

    assert str(error) == "unknown price file format 'csv'; use one of aws-price-list, skypilot-vms"


def test_undetectable_file_asks_for_format(tmp_path: Path) -> None:
    path = tmp_path / "prices.txt"
    path.write_text("instance,price\nc6i.large,0.085\n", encoding="utf-8")

    error = _import_error(path)

    assert str(error) == (
        "cannot tell the format of prices.txt; pass --format aws-price-list or skypilot-vms"
    )


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda tmp: tmp / "missing.csv", "no such file; check the path"),
        (lambda tmp: tmp, "it is a folder"),
    ],
    ids=["missing", "folder"],
)
def test_unreadable_file_says_why(
    tmp_path: Path, make: Callable[[Path], Path], expected: str
) -> None:
    error = _import_error(make(tmp_path))

    assert str(error).startswith("cannot read ") and expected in str(error)


def test_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(SKYPILOT_AWS.read_bytes()[:200] + "caf\xe9".encode("latin-1") + b"\n")

    error = _import_error(path)

    assert str(error).startswith("latin1.csv is not UTF-8 text")
    assert "save it as UTF-8" in str(error)


def test_unknown_provider_is_refused() -> None:
    error = _import_error(SKYPILOT_AWS, provider="ibm")

    assert str(error) == "unknown provider 'ibm'; use one of aws, gcp, azure"


def test_import_date_defaults_to_today() -> None:
    result = read_price_file(SKYPILOT_GCP)

    assert {offer.as_of for offer in result.offers} == {date.today()}


def test_malformed_file_error_carries_warnings_too(tmp_path: Path) -> None:
    path = _edited(tmp_path, SKYPILOT_AWS, lambda t: t.replace("0.0725,0.032100", "0.0725,cheap"))

    error = _import_error(path)

    assert isinstance(error, MalformedPriceFile)
    assert str(error) == "skypilot-aws-vms.csv:9: SpotPrice must be a number, got 'cheap'"
    assert {issue.level for issue in error.issues} == {"error", "warning"}
