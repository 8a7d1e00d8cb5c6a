"""What CPU each instance family runs on, how fast its cores are, and what they can do.

``data/machines.csv`` holds one row per provider and family prefix ("c6i",
"n2", Azure's "Ds_v5"), or per exact instance type where sizes differ (the
burstable t3 sizes each have their own baseline). Each row names the CPU,
how many hardware threads share a physical core (2 with SMT), the CPU flags
inference kernels use, and ``core_speed``: one physical core's speed on
single-threaded inference work relative to an AMD EPYC Milan (Zen 3) core =
1.00. The CPU facts come from the provider pages in ``source``; the speed
factors are our judgement, rounded from published SPECrate2017_int_base
results per core (https://www.spec.org/cpu2017/results/) and nudged up for
AVX-512 where ONNX Runtime's fp32 GEMM uses it. They are estimates, and a
plan that rests on them says so.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from importlib import resources

from mlcost.core import Offer

REFERENCE_CORE = "AMD EPYC Milan (Zen 3) core"


@dataclass(frozen=True, slots=True)
class MachineSpec:
    """The CPU of one instance family (or one exact instance type) and where that is documented.

    ``cpu_match`` is a regular expression that recognises this CPU in a
    measured ``Hardware.cpu_model``; empty where the provider picks among
    several platforms, so no measurement is taken to stand for the family.
    ``baseline_share`` is the share of each vCPU a burstable machine sustains
    (1.0 for every other machine).
    """

    provider: str
    family: str
    cpu_model: str
    cpu_match: str
    arch: str
    threads_per_core: int
    cpu_flags: tuple[str, ...]
    core_speed: float
    baseline_share: float
    source: str
    note: str = ""

    @property
    def has_smt(self) -> bool:
        return self.threads_per_core > 1

    @property
    def is_burstable(self) -> bool:
        return self.baseline_share < 1.0

    def matches_cpu(self, cpu_model: str) -> bool:
        """Whether a measured CPU model string is this row's CPU."""
        return (
            bool(self.cpu_match) and re.search(self.cpu_match, cpu_model, re.IGNORECASE) is not None
        )


def _load_machines() -> dict[tuple[str, str], MachineSpec]:
    text = resources.files("mlcost.catalog").joinpath("data/machines.csv").read_text()
    machines: dict[tuple[str, str], MachineSpec] = {}
    for row in csv.DictReader(text.splitlines()):
        spec = MachineSpec(
            provider=row["provider"],
            family=row["family"],
            cpu_model=row["cpu_model"],
            cpu_match=row["cpu_match"],
            arch=row["arch"],
            threads_per_core=int(row["threads_per_core"]),
            cpu_flags=tuple(row["cpu_flags"].split()),
            core_speed=float(row["core_speed"]),
            baseline_share=float(row["baseline_share"]),
            source=row["source"],
            note=row["note"],
        )
        machines[(spec.provider, spec.family)] = spec
    return machines


KNOWN_MACHINES: dict[tuple[str, str], MachineSpec] = _load_machines()


def instance_family(provider: str, instance_type: str) -> str:
    """The family key of an instance type: "c6i.large" -> "c6i", "n2-standard-2" -> "n2",
    "Standard_NC4as_T4_v3" -> "NCas_T4_v3" (Azure: the size digits dropped)."""
    if provider == "aws":
        return instance_type.split(".")[0]
    if provider == "azure":
        name = instance_type.removeprefix("Standard_")
        return re.sub(r"^([A-Za-z]+?)\d+", r"\1", name, count=1)
    return instance_type.split("-")[0]


def machine_spec(offer: Offer) -> MachineSpec | None:
    """The machines-table row for an offer: its exact instance type first, then its family.

    Returns None when the table has neither.
    """
    exact = KNOWN_MACHINES.get((offer.provider, offer.instance_type))
    if exact is not None:
        return exact
    return KNOWN_MACHINES.get(
        (offer.provider, instance_family(offer.provider, offer.instance_type))
    )


def match_cpu(cpu_model: str) -> MachineSpec | None:
    """The first machines-table row whose CPU a measured ``cpu_model`` is; None if none is."""
    for spec in KNOWN_MACHINES.values():
        if spec.matches_cpu(cpu_model):
            return spec
    return None
