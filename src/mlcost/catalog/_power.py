"""What a machine draws and where its region is: the coefficients behind every kgCO2e figure.

``data/power.csv`` holds one row per coefficient: watts per vCPU at 0 % and 100 %
CPU by provider, watts per GiB of memory, a GPU's idle and maximum watts (by
accelerator family), and each provider's fleet PUE. ``low`` and ``high`` are the
two ends of a range (a memory or PUE row gives the same number twice). Every row
names its source and the date it was read. ``data/region_locations.csv`` says
which country (and, in the US, which state) each AWS and Azure region is in, so
the grid intensity of a region codecarbon's cloud table lacks can fall back to
its state's or country's. Both files are validated like the offers: a missing
source, a bad number or an unknown name is an error at "file:line".
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from importlib import resources
from typing import Literal, TypeVar, get_args

from mlcost.catalog._accelerators import KNOWN_ACCELERATORS
from mlcost.catalog._rows import Issue, _check_choice, _date, _number, _RowProblems, _text
from mlcost.core import PROVIDERS, CatalogError

T = TypeVar("T")
PowerComponent = Literal["cpu", "memory", "gpu", "pue"]
COMPONENTS: tuple[PowerComponent, ...] = get_args(PowerComponent)
POWER_COLUMNS = ("component", "provider", "name", "low", "high", "unit", "as_of", "source", "note")
LOCATION_COLUMNS = ("provider", "region", "country", "state", "place", "source")
# The unit each component's numbers are in; a row in another unit is an error.
_UNITS: dict[str, str] = {
    "cpu": "W per vCPU",
    "memory": "W per GiB",
    "gpu": "W per GPU",
    "pue": "ratio",
}
_GPU_FAMILIES = frozenset(spec.family for spec in KNOWN_ACCELERATORS.values() if spec.kind == "gpu")


@dataclass(frozen=True, slots=True)
class PowerCoefficient:
    """One row of power.csv: a coefficient's range, its unit, and where it comes from.

    ``provider`` is empty for a coefficient that holds for every provider (memory,
    a GPU); ``name`` is the GPU family for a GPU row.
    """

    component: PowerComponent
    provider: str
    name: str
    low: float
    high: float
    unit: str
    as_of: date
    source: str
    note: str = ""

    def at(self, utilization: float) -> float:
        """The value at ``utilization`` (0..1), linear between ``low`` and ``high``."""
        return self.low + utilization * (self.high - self.low)

    @property
    def cited(self) -> str:
        """The coefficient with its source and date, for a figure's list of inputs."""
        span = f"{self.low:g}" if self.low == self.high else f"{self.low:g}-{self.high:g}"
        return (
            f"{self.component} {self.name}: {span} {self.unit} ({self.source}, read {self.as_of})"
        )


@dataclass(frozen=True, slots=True)
class RegionLocation:
    """Where a cloud region is: ISO 3166 alpha-3 country, US state (codecarbon's spelling)."""

    provider: str
    region: str
    country: str
    state: str
    place: str
    source: str


@dataclass(frozen=True, slots=True)
class PowerTable:
    """The validated coefficients and region locations; lookups return None when absent."""

    coefficients: tuple[PowerCoefficient, ...]
    locations: tuple[RegionLocation, ...]

    def coefficient(
        self, component: PowerComponent, provider: str, name: str = ""
    ) -> PowerCoefficient | None:
        """The row of ``component`` for ``provider`` (or for every provider), by name if given."""
        for row in self.coefficients:
            if row.component != component or row.provider not in ("", provider):
                continue
            if not name or row.name == name:
                return row
        return None

    def gpu(self, accelerator: str) -> PowerCoefficient | None:
        """The GPU row of a canonical accelerator name ("A100-80GB" -> the A100 row)."""
        spec = KNOWN_ACCELERATORS.get(accelerator)
        return None if spec is None else self.coefficient("gpu", "", spec.family)

    def location(self, provider: str, region: str) -> RegionLocation | None:
        return next(
            (loc for loc in self.locations if loc.provider == provider and loc.region == region),
            None,
        )


def _parse_rows(
    text: str,
    name: str,
    columns: Sequence[str],
    parse: Callable[[Mapping[str, str], str], tuple[T | None, list[Issue]]],
    key: Callable[[T], tuple[str, ...]],
) -> tuple[tuple[T, ...], list[Issue]]:
    """The valid rows of the CSV ``text`` named ``name``, each ``key`` once, and every problem
    at "name:line" (a missing column, what ``parse`` finds, a row listed twice)."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [column for column in columns if column not in (reader.fieldnames or ())]
    if missing:
        return (), [Issue("error", f"{name}:1", f"missing column(s) {', '.join(missing)}")]
    rows: list[T] = []
    issues: list[Issue] = []
    seen: dict[tuple[str, ...], str] = {}
    for raw in reader:
        where = f"{name}:{reader.line_num}"
        row, row_issues = parse(raw, where)
        issues.extend(row_issues)
        if row is None:
            continue
        first = seen.setdefault(key(row), where)
        if first != where:
            issues.append(Issue("error", where, f"listed twice (first at {first}); keep one row"))
            continue
        rows.append(row)
    return tuple(rows), issues


def parse_power_rows(text: str, name: str) -> tuple[tuple[PowerCoefficient, ...], list[Issue]]:
    """The coefficients in ``text`` (a power.csv named ``name``) and every problem found.

    Errors, each at "name:line": a missing column or field, an unknown component,
    provider or GPU family, a number that is not finite and >= 0, ``low`` above
    ``high``, a unit other than the component's, a PUE below 1, a row listed twice.
    """
    return _parse_rows(
        text, name, POWER_COLUMNS, _power_row, lambda row: (row.component, row.provider, row.name)
    )


def _power_row(raw: Mapping[str, str], where: str) -> tuple[PowerCoefficient | None, list[Issue]]:
    problems = _RowProblems(where)
    for column in ("component", "name", "unit", "as_of", "source"):
        if not _text(raw, column):
            problems.error(f"missing {column}; fill it in")
    component, provider, name = _text(raw, "component"), _text(raw, "provider"), _text(raw, "name")
    _check_choice(component, "component", COMPONENTS, problems)
    _check_choice(provider, "provider", PROVIDERS, problems)
    if component in ("cpu", "pue") and not provider:
        problems.error(f"a {component} row needs a provider ({', '.join(PROVIDERS)})")
    if component == "gpu" and name not in _GPU_FAMILIES:
        problems.error(
            f"GPU {name!r} is not a known GPU family ({', '.join(sorted(_GPU_FAMILIES))})"
        )
    low = _number(raw, "low", problems, required=True)
    high = _number(raw, "high", problems, required=True)
    if low is not None and high is not None and low > high:
        problems.error(f"low {low:g} is above high {high:g}; swap them")
    unit = _text(raw, "unit")
    wanted = _UNITS.get(component)
    if wanted is not None and unit and unit != wanted:
        problems.error(f"unit {unit!r} is not {wanted!r}, the unit of a {component} row")
    if component == "pue" and low is not None and low < 1.0:
        problems.error(f"a PUE is at least 1 (facility energy / IT energy), got {low:g}")
    as_of = _date(raw, "as_of", problems)
    if problems.has_errors or low is None or high is None or as_of is None:
        return None, problems.issues
    row = PowerCoefficient(
        component=component,  # type: ignore[arg-type]
        provider=provider,
        name=name,
        low=low,
        high=high,
        unit=unit,
        as_of=as_of,
        source=_text(raw, "source"),
        note=_text(raw, "note"),
    )
    return row, problems.issues


def parse_region_locations(text: str, name: str) -> tuple[tuple[RegionLocation, ...], list[Issue]]:
    """The region locations in ``text`` and every problem (a missing field, an unknown
    provider, a country that is not three capital letters, a region listed twice)."""
    return _parse_rows(
        text, name, LOCATION_COLUMNS, _location_row, lambda loc: (loc.provider, loc.region)
    )


def _location_row(raw: Mapping[str, str], where: str) -> tuple[RegionLocation | None, list[Issue]]:
    problems = _RowProblems(where)
    fields = {column: _text(raw, column) for column in LOCATION_COLUMNS}
    for column, value in fields.items():
        if not value and column != "state":
            problems.error(f"missing {column}; fill it in")
    _check_choice(fields["provider"], "provider", PROVIDERS, problems)
    country = fields["country"]
    if country and not (len(country) == 3 and country.isalpha() and country.isupper()):
        problems.error(f"country must be an ISO 3166 alpha-3 code like USA, got {country!r}")
    return (None if problems.has_errors else RegionLocation(**fields)), problems.issues


def _read(name: str) -> str:
    return resources.files("mlcost.catalog").joinpath("data", name).read_text(encoding="utf-8")


@functools.cache
def load_power_table() -> PowerTable:
    """The power coefficients and region locations shipped with mlcost.

    Raises CatalogError naming the first error (and how many more) when either
    file is invalid, or when a provider lacks its CPU or PUE row or memory has none.
    """
    coefficients, issues = parse_power_rows(_read("power.csv"), "power.csv")
    locations, location_issues = parse_region_locations(
        _read("region_locations.csv"), "region_locations.csv"
    )
    issues.extend(location_issues)
    table = PowerTable(coefficients, locations)
    needed: list[tuple[PowerComponent, str]] = [("memory", "")]
    needed += [(kind, p) for p in PROVIDERS for kind in ("cpu", "pue")]
    for component, provider in needed:
        if table.coefficient(component, provider) is None:
            where = f"power.csv ({provider or 'every provider'})"
            issues.append(Issue("error", where, f"no {component} row; add one with its source"))
    errors = [issue for issue in issues if issue.level == "error"]
    if errors:
        raise CatalogError(
            f"the shipped power table is invalid: {errors[0]} (and {len(errors) - 1} more)"
        )
    return table
