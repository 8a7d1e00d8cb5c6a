"""Which CPU a profile was measured on, from its model name or, failing that, its family and model.

Cloud VMs often hide the model name ("Intel(R) Xeon(R) Processor", "AMD EPYC
Processor"), so the machines table's ``cpu_match`` cannot recognise them; the
family and model numbers CPUID reports still name the microarchitecture.
``data/cpu_ids.csv`` maps them, one row per range, each with its source: x86
rows give the ``vendor`` (vendor_id), ``family``, ``models`` ("85", "48-63")
and, where one model number spans generations, ``steppings`` (family 6 model
85 is Skylake at stepping 4, Cascade Lake at 5-7, Cooper Lake at 11); Arm rows
give the MIDR implementer as ``vendor`` ("0x41", Arm Ltd) and the part number
as ``models``. A microarchitecture's core speed is the fastest machines-table
row whose ``cpu_model`` names it ("... (Ice Lake)"), so an identification
never makes the profile CPU look slower than it may be, and estimates scaled
from it never flatter.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Literal

from mlcost.catalog._machines import KNOWN_MACHINES, MachineSpec
from mlcost.core import CpuId, Hardware


@dataclass(frozen=True, slots=True)
class CpuIdRow:
    """One range of CPU ids of one microarchitecture, and where that is documented.

    ``steppings`` is None where every stepping of the models is the same
    microarchitecture. For Arm, ``vendor`` is the MIDR implementer ("0x41")
    and ``models`` the range of part numbers.
    """

    arch: str
    vendor: str
    family: int | None
    models: tuple[int, int]
    steppings: tuple[int, int] | None
    microarchitecture: str
    source: str

    def matches(self, cpu_id: CpuId) -> bool:
        """Whether ``cpu_id`` is in this row's range."""
        if self.arch == "arm64":
            return (
                cpu_id.implementer is not None
                and f"{cpu_id.implementer:#x}" == self.vendor
                and _within(cpu_id.part, self.models)
            )
        return (
            cpu_id.vendor == self.vendor
            and cpu_id.family == self.family
            and _within(cpu_id.model, self.models)
            and (self.steppings is None or _within(cpu_id.stepping, self.steppings))
        )


@dataclass(frozen=True, slots=True)
class CpuIdentity:
    """How a measured CPU was recognised, and its core speed (see ``MachineSpec.core_speed``).

    ``machine`` is the fastest machines-table row of that CPU; None (and
    ``core_speed`` None) where the microarchitecture is known but the table
    has no machine with it.
    """

    by: Literal["model name", "cpu family/model"]
    microarchitecture: str
    machine: MachineSpec | None

    @property
    def core_speed(self) -> float | None:
        return None if self.machine is None else self.machine.core_speed

    @property
    def how(self) -> str:
        """The method's phrase: "by model name" or "by cpu family/model (Sapphire Rapids)"."""
        if self.by == "model name":
            return "by model name"
        return f"by cpu family/model ({self.microarchitecture})"


def _within(number: int | None, bounds: tuple[int, int]) -> bool:
    return number is not None and bounds[0] <= number <= bounds[1]


def _bounds(text: str) -> tuple[int, int]:
    """A range from its text: "85" -> (85, 85), "48-63" -> (48, 63), "0xd0c" -> (3340, 3340)."""
    first, _, last = text.partition("-")
    return int(first, 0), int(last or first, 0)


def _load_cpu_ids() -> tuple[CpuIdRow, ...]:
    text = resources.files("mlcost.catalog").joinpath("data/cpu_ids.csv").read_text()
    return tuple(
        CpuIdRow(
            arch=row["arch"],
            vendor=row["vendor"],
            family=int(row["family"]) if row["family"] else None,
            models=_bounds(row["models"]),
            steppings=_bounds(row["steppings"]) if row["steppings"] else None,
            microarchitecture=row["microarchitecture"],
            source=row["source"],
        )
        for row in csv.DictReader(text.splitlines())
    )


KNOWN_CPU_IDS: tuple[CpuIdRow, ...] = _load_cpu_ids()


def microarchitecture(cpu_id: CpuId) -> CpuIdRow | None:
    """The cpu_ids.csv row ``cpu_id`` falls in; None where no row has it."""
    return next((row for row in KNOWN_CPU_IDS if row.matches(cpu_id)), None)


def identify_cpu(hardware: Hardware) -> CpuIdentity | None:
    """The profile CPU, by its model name first, then by its family and model numbers.

    Where several machines-table rows fit, the fastest is taken. Returns None
    when neither the name nor the numbers identify the CPU.
    """
    by_name = _fastest(
        spec for spec in KNOWN_MACHINES.values() if spec.matches_cpu(hardware.cpu_model)
    )
    if by_name is not None:
        return CpuIdentity("model name", "", by_name)
    row = microarchitecture(hardware.cpu_id) if hardware.cpu_id is not None else None
    if row is None:
        return None
    named = re.compile(rf"\b{re.escape(row.microarchitecture)}\b", re.IGNORECASE)
    machine = _fastest(
        spec
        for spec in KNOWN_MACHINES.values()
        if spec.arch == row.arch and named.search(spec.cpu_model)
    )
    return CpuIdentity("cpu family/model", row.microarchitecture, machine)


def _fastest(specs: Iterable[MachineSpec]) -> MachineSpec | None:
    return max(specs, key=lambda spec: spec.core_speed, default=None)
