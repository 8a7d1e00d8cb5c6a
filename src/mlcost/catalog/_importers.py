"""Import price files published by other tools into mlcost's catalog.

Input: a price file on disk (SkyPilot's vms.csv, the AWS Price List offer file, ...).
Output: an ImportResult of validated Offers with origin "imported", or a
CatalogImportError that says where the file is wrong and what to do.

Each format is a plugin: a class with ``name``, ``description``, ``detect`` and
``read`` that registers itself with @register_importer. Importers turn their
records into rows of mlcost's own catalog format and validate them with
parse_offer_row, so one set of rules decides what a valid offer is.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Protocol, TypeVar

from mlcost.catalog._rows import Issue
from mlcost.core import PROVIDERS, CatalogImportError, Offer

# Enough text to see a CSV header or the top-level keys of a JSON offer file.
_HEAD_BYTES = 4096


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an importer read from one file.

    ``offers`` have origin "imported"; ``issues`` holds every error and warning,
    each with ``where`` = "FILENAME:LINE".
    """

    format: str
    offers: tuple[Offer, ...]
    issues: tuple[Issue, ...]

    @property
    def errors(self) -> tuple[Issue, ...]:
        return tuple(issue for issue in self.issues if issue.level == "error")

    @property
    def warnings(self) -> tuple[Issue, ...]:
        return tuple(issue for issue in self.issues if issue.level == "warning")


class CatalogImporter(Protocol):
    """One price-file format mlcost can import."""

    name: str
    description: str

    def detect(self, path: Path, head: str) -> bool:
        """Whether the file is in this format; ``head`` is its first ~4 KB of text."""
        ...

    def read(self, path: Path, *, provider: str | None = None) -> ImportResult:
        """Read the whole file into offers and issues.

        Row problems come back as issues. Raises CatalogImportError only when the
        file cannot be read at all (missing, unreadable, not UTF-8) or
        ``provider`` contradicts the format.
        """
        ...


class MalformedPriceFile(CatalogImportError):
    """An imported price file has errors or no offers; ``issues`` lists every issue found."""

    def __init__(self, message: str, issues: Iterable[Issue]) -> None:
        super().__init__(message)
        self.issues: tuple[Issue, ...] = tuple(issues)


IMPORTERS: dict[str, CatalogImporter] = {}

_ImporterClass = TypeVar("_ImporterClass", bound="type[CatalogImporter]")


def register_importer(cls: _ImporterClass) -> _ImporterClass:
    """Class decorator: add an instance of ``cls`` to IMPORTERS under its ``name``.

    Returns ``cls`` unchanged. Raises ValueError when the name is already taken.
    """
    importer = cls()
    if importer.name in IMPORTERS:
        raise ValueError(f"two price-file importers are named {importer.name!r}")
    IMPORTERS[importer.name] = importer
    return cls


def read_price_file(
    path: Path,
    *,
    format: str | None = None,
    provider: str | None = None,
    today: date | None = None,
) -> ImportResult:
    """Import one price file, in ``format`` or the format its content shows.

    Offers without a date of their own get ``today`` (default: date.today()) as
    ``as_of``. Returns the ImportResult, warnings included. Raises
    CatalogImportError when the format is unknown or cannot be told, the file
    cannot be read, or ``provider`` is not a known cloud; raises
    MalformedPriceFile (a CatalogImportError with ``.issues``) when any row has
    an error or the file holds no offers.
    """
    if provider is not None and provider not in PROVIDERS:
        raise CatalogImportError(
            f"unknown provider {provider!r}; use one of {', '.join(PROVIDERS)}"
        )
    importer = _pick_importer(path, format)
    result = importer.read(path, provider=provider)
    _raise_on_errors(path, result)
    return _dated(result, today or date.today())


def read_text(path: Path) -> str:
    """The whole file as text (a UTF-8 byte-order mark is dropped).

    Raises CatalogImportError when the file is missing, unreadable or not UTF-8.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _not_utf8(path, exc) from exc


def read_head(path: Path) -> str:
    """The first ~4 KB of the file as text, for format detection.

    Raises CatalogImportError when the file is missing, unreadable or not UTF-8.
    """
    try:
        with path.open("rb") as handle:
            data = handle.read(_HEAD_BYTES)
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The cut at _HEAD_BYTES can split a multi-byte character; anything
        # earlier is a real encoding problem.
        if exc.start < len(data) - 3:
            raise _not_utf8(path, exc) from exc
        text = data[: exc.start].decode("utf-8")
    return text.removeprefix("\ufeff")


def in_source_terms(issues: Iterable[Issue], names: Mapping[str, str]) -> list[Issue]:
    """The issues with mlcost's column names replaced by the source file's own.

    parse_offer_row speaks of "on_demand_usd_per_hour"; a user fixing a SkyPilot
    file needs to read "Price".
    """
    pattern = re.compile(r"\b(" + "|".join(re.escape(name) for name in names) + r")\b")
    return [
        replace(issue, message=pattern.sub(lambda match: names[match.group(1)], issue.message))
        for issue in issues
    ]


def by_line(issues: Iterable[Issue]) -> tuple[Issue, ...]:
    """The issues in file order ("FILE:LINE" sorted by LINE; the sort is stable)."""
    return tuple(sorted(issues, key=lambda issue: int(issue.where.rpartition(":")[2] or 0)))


def _pick_importer(path: Path, format: str | None) -> CatalogImporter:
    if format is not None:
        if format not in IMPORTERS:
            raise CatalogImportError(
                f"unknown price file format {format!r}; use one of {', '.join(sorted(IMPORTERS))}"
            )
        return IMPORTERS[format]
    head = read_head(path)
    for name in sorted(IMPORTERS):
        if IMPORTERS[name].detect(path, head):
            return IMPORTERS[name]
    raise CatalogImportError(
        f"cannot tell the format of {path.name}; pass --format {' or '.join(sorted(IMPORTERS))}"
    )


def _raise_on_errors(path: Path, result: ImportResult) -> None:
    errors = result.errors
    if errors:
        more = len(errors) - 1
        tail = f" (and {more} more error{'s' if more > 1 else ''})" if more else ""
        raise MalformedPriceFile(f"{errors[0].where}: {errors[0].message}{tail}", result.issues)
    if not result.offers:
        raise MalformedPriceFile(
            f"no offers found in {path.name}; {_why_empty(result)}", result.issues
        )


def _why_empty(result: ImportResult) -> str:
    warnings = result.warnings
    if not warnings:
        return "the file lists no machines mlcost can price; check it is the right file"
    first = warnings[0]
    return f"{len(warnings)} warning(s) say why, first: {first.where}: {first.message}"


def _dated(result: ImportResult, today: date) -> ImportResult:
    offers = tuple(
        offer if offer.as_of is not None else replace(offer, as_of=today) for offer in result.offers
    )
    return replace(result, offers=offers)


def _unreadable(path: Path, exc: OSError) -> CatalogImportError:
    if isinstance(exc, FileNotFoundError):
        return CatalogImportError(f"cannot read {path}: no such file; check the path")
    if isinstance(exc, IsADirectoryError):
        return CatalogImportError(f"cannot read {path}: it is a folder; give the price file itself")
    if isinstance(exc, PermissionError):
        return CatalogImportError(
            f"cannot read {path}: permission denied; check the file's permissions"
        )
    return CatalogImportError(f"cannot read {path}: {exc.strerror or exc}; check the file")


def _not_utf8(path: Path, exc: UnicodeDecodeError) -> CatalogImportError:
    return CatalogImportError(
        f"{path.name} is not UTF-8 text (undecodable byte at offset {exc.start}); "
        "save it as UTF-8 and import it again"
    )


# The built-in importers register themselves when imported. They import this
# module, so they are loaded last, once everything above is defined.
for _module in ("mlcost.catalog._import_aws", "mlcost.catalog._import_skypilot"):
    importlib.import_module(_module)
