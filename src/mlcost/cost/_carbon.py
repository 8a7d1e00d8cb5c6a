"""Energy and CO2e of a fleet: node-hours x a power model at a utilization, x PUE, x the grid.

The power of one node follows Cloud Carbon Footprint's method
(https://www.cloudcarbonfootprint.org/docs/methodology), per hour it runs:

    watts = vCPUs x (min + u_cpu x (max - min))     per-vCPU watts of its provider
          + memory GiB x 0.392                      CCF's memory coefficient
          + GPUs x (idle + u_gpu x (max - idle))    its GPU's idle and maximum watts

``u_cpu`` is the share of the node's vCPUs busy, ``u_gpu`` of its GPUs. The energy
the data centre draws is ``watts x node-hours / 1000 x PUE`` (the provider's), and
the CO2e is that x the region's grid gCO2e/kWh. The model is linear in utilization,
so a fleet whose use changes by the minute gets its exact energy from the mean
utilization weighted by node-hours. Coefficients come from the catalog's power
table, the grid from codecarbon's data (``catalog.grid_intensity``), each with its
source kept in the result. What is not counted: embodied emissions, storage and
network energy, and renewable certificates (the grid is location-based).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mlcost.catalog import (
    KNOWN_ACCELERATORS,
    GridIntensity,
    PowerCoefficient,
    PowerComponent,
    PowerTable,
    grid_intensity,
    load_power_table,
)
from mlcost.core import Basis, CarbonFootprint, CostError, Offer

# (provider, region) -> the grid intensity there; tests inject a fixed one.
GridLookup = Callable[[str, str], GridIntensity]


@dataclass(frozen=True, slots=True)
class NodeUsage:
    """One instance type's use over a period: its node-hours and how busy the nodes were.

    ``cpu_utilization`` is the share of the nodes' vCPUs busy, averaged over their
    node-hours (0..1); ``accelerator_utilization`` that of their accelerators (None:
    the same as the CPU's).
    """

    offer: Offer
    node_hours: float
    cpu_utilization: float
    accelerator_utilization: float | None = None

    def __post_init__(self) -> None:
        if self.node_hours < 0:
            raise CostError(f"node-hours must be >= 0, got {self.node_hours:g}")
        for name in ("cpu_utilization", "accelerator_utilization"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise CostError(f"{name.replace('_', ' ')} must be in [0, 1], got {value:g}")

    @property
    def cited(self) -> str:
        offer = self.offer
        busy = f"CPU {self.cpu_utilization:.1%} busy"
        if offer.accelerator_name:
            share = self.accelerator_utilization
            gpu = self.cpu_utilization if share is None else share
            busy += f", {offer.accelerator_count} x {offer.accelerator_name} {gpu:.1%} busy"
        return (
            f"{offer.instance_type} ({offer.provider} {offer.region}, {offer.vcpus} vCPU, "
            f"{offer.memory_gib:g} GiB): {self.node_hours:,.1f} node-hours, {busy}"
        )


def _shipped_grid(power: PowerTable) -> GridLookup:
    """codecarbon's grid data, with ``power``'s region locations for the fallbacks."""
    return lambda provider, region: grid_intensity(provider, region, power=power)


def _coefficient(
    power: PowerTable, component: PowerComponent, offer: Offer, name: str = ""
) -> PowerCoefficient:
    found = power.gpu(name) if component == "gpu" else power.coefficient(component, offer.provider)
    if found is None:
        spec = KNOWN_ACCELERATORS.get(name)
        if spec is not None and spec.kind != "gpu":
            raise CostError(
                f"no power coefficient for {name} ({offer.instance_type}): {spec.vendor} publishes "
                "no power figure for it, and mlcost does not guess one"
            )
        what = name or f"{offer.provider}'s {component}"
        raise CostError(
            f"no power coefficient for {what} ({offer.instance_type}); add a {component} row with "
            "its source to mlcost/catalog/data/power.csv"
        )
    return found


def node_watts(usage: NodeUsage, power: PowerTable) -> tuple[float, tuple[PowerCoefficient, ...]]:
    """The IT power of one of ``usage``'s nodes at its utilization, and the coefficients used.

    Raises CostError when the provider or the accelerator has no coefficient.
    """
    offer = usage.offer
    cpu = _coefficient(power, "cpu", offer)
    memory = _coefficient(power, "memory", offer)
    watts = offer.vcpus * cpu.at(usage.cpu_utilization) + offer.memory_gib * memory.low
    used: tuple[PowerCoefficient, ...] = (cpu, memory)
    if offer.accelerator_name:
        gpu = _coefficient(power, "gpu", offer, offer.accelerator_name)
        share = usage.accelerator_utilization
        watts += offer.accelerator_count * gpu.at(usage.cpu_utilization if share is None else share)
        used += (gpu,)
    return watts, used


def fleet_carbon(
    usages: Sequence[NodeUsage],
    *,
    method: str,
    power: PowerTable | None = None,
    grid: GridLookup | None = None,
) -> CarbonFootprint:
    """Estimated energy (kWh) and kgCO2e of ``usages`` over their node-hours.

    ``method`` says where the node-hours and utilizations come from (a simulated
    month, a monitor's metrics); the result's ``inputs`` add every coefficient and
    grid figure used. Raises CostError for a machine without coefficients, and
    MissingDependencyError when codecarbon (the grid data) is not installed.
    """
    power = power or load_power_table()
    lookup = grid or _shipped_grid(power)
    energy_kwh = kg_co2e = 0.0
    inputs: dict[str, None] = {}
    for usage in usages:
        watts, used = node_watts(usage, power)
        pue = _coefficient(power, "pue", usage.offer)
        intensity = lookup(usage.offer.provider, usage.offer.region)
        kwh = watts * usage.node_hours / 1000.0 * pue.low
        energy_kwh += kwh
        kg_co2e += kwh * intensity.g_co2e_per_kwh / 1000.0
        cited = (usage.cited, *(c.cited for c in used), pue.cited, intensity.cited)
        inputs.update(dict.fromkeys(cited))
    return CarbonFootprint(
        energy_kwh=energy_kwh,
        kg_co2e=kg_co2e,
        g_co2e_per_kwh=kg_co2e * 1000.0 / energy_kwh if energy_kwh else 0.0,
        basis="estimated",
        method=f"{method}; watts per node from CCF's per-vCPU, memory and GPU coefficients x PUE",
        inputs=tuple(inputs),
    )


def energy_carbon(
    energy_kwh: float,
    *,
    provider: str,
    region: str,
    basis: Basis,
    method: str,
    power: PowerTable | None = None,
    grid: GridLookup | None = None,
) -> CarbonFootprint:
    """kgCO2e of ``energy_kwh`` drawn by one machine in ``region`` (a meter's reading).

    A meter such as codecarbon sees the machine, not the data centre: the provider's
    PUE is applied, then the region's grid, as for an estimate, so a run and its plan
    compare. ``basis`` is the energy's: "measured" where a power meter was read,
    "estimated" where the meter modelled it; ``method`` says which. Raises CostError for
    a negative energy or a provider without a PUE row; MissingDependencyError without
    codecarbon.
    """
    if energy_kwh < 0:
        raise CostError(f"energy must be >= 0 kWh, got {energy_kwh:g}")
    power = power or load_power_table()
    pue = power.coefficient("pue", provider)
    if pue is None:
        raise CostError(f"no PUE for provider {provider!r}; add a pue row to power.csv")
    intensity = (grid or _shipped_grid(power))(provider, region)
    kwh = energy_kwh * pue.low
    return CarbonFootprint(
        energy_kwh=kwh,
        kg_co2e=kwh * intensity.g_co2e_per_kwh / 1000.0,
        g_co2e_per_kwh=intensity.g_co2e_per_kwh,
        basis=basis,
        method=f"{method}; x PUE x the grid",
        inputs=(f"{energy_kwh:.6g} kWh drawn by the machine", pue.cited, intensity.cited),
    )
