"""The values that flow between stages: frozen, with units in their names."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

Pricing = Literal["on-demand", "spot", "savings-1y", "savings-3y"]
PriceOrigin = Literal["shipped", "imported", "override"]

PROVIDERS = ("aws", "gcp", "azure")
ARCHES = ("x86_64", "arm64")
# AWS Spot Instance Advisor's "frequency of interruption" buckets, in order.
INTERRUPTION_BUCKETS = ("<5%", "5-10%", "10-15%", "15-20%", ">20%")


@dataclass(frozen=True, slots=True)
class Offer:
    """One priced machine in one region.

    ``accelerator_memory_gib`` is per accelerator. ``spot_usd_per_hour`` is None
    where no spot price is known or the provider gives no spot discount.
    ``origin`` says which catalog layer the price came from: the catalog
    shipped with mlcost, a file the user imported, or the user's override.
    """

    provider: str
    region: str
    instance_type: str
    vcpus: int
    memory_gib: float
    arch: str
    on_demand_usd_per_hour: float
    spot_usd_per_hour: float | None = None
    accelerator_name: str | None = None
    accelerator_count: int = 0
    accelerator_memory_gib: float | None = None
    spot_seen_on: date | None = None
    interruption_bucket: str | None = None
    as_of: date | None = None
    source: str = ""
    origin: PriceOrigin = "shipped"
    note: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        """(provider, region, instance_type): what identifies an offer in the catalog."""
        return (self.provider, self.region, self.instance_type)

    @property
    def has_accelerator(self) -> bool:
        return self.accelerator_count > 0

    def usd_per_hour(self, *, is_spot: bool) -> float | None:
        """The spot or the on-demand price; None for spot where there is no spot price."""
        return self.spot_usd_per_hour if is_spot else self.on_demand_usd_per_hour

    @property
    def spot_discount_fraction(self) -> float | None:
        """Share of the on-demand price that spot saves (0.62 = 62 % off), or None."""
        if self.spot_usd_per_hour is None:
            return None
        return 1.0 - self.spot_usd_per_hour / self.on_demand_usd_per_hour


@dataclass(frozen=True, slots=True)
class Commitment:
    """A savings plan or committed-use discount: a share off on-demand for a term.

    ``families`` lists the instance-type prefixes it applies to ("n2", "a2");
    empty means every instance of the provider. ``is_upper_bound`` marks an
    "up to N %" figure that is a provider's maximum, not a rate for a given
    machine.
    """

    provider: str
    name: str
    term_years: int
    discount_fraction: float
    families: tuple[str, ...] = ()
    is_upper_bound: bool = False
    as_of: date | None = None
    source: str = ""

    def applies_to(self, offer: Offer) -> bool:
        if offer.provider != self.provider:
            return False
        if not self.families:
            return True
        family = offer.instance_type.split("-")[0].split(".")[0]
        return family in self.families


@dataclass(frozen=True, slots=True)
class ServerlessPrice:
    """Per-request serverless pricing (AWS Lambda, Cloud Run request-based).

    Duration is billed in steps of ``billing_granularity_ms``; ``mb_per_vcpu`` is
    the memory that buys one vCPU where memory sets the CPU share (Lambda: 1,769
    MB), 0 where vCPUs are chosen apart; ``machine`` names the machines-table row
    of the function's CPU. GB-seconds are memory in MB / 1,024 x seconds.
    """

    provider: str
    service: str
    usd_per_million_requests: float
    usd_per_gb_second: float
    usd_per_vcpu_second: float = 0.0
    free_requests_per_month: float = 0.0
    free_gb_seconds_per_month: float = 0.0
    free_vcpu_seconds_per_month: float = 0.0
    billing_granularity_ms: float = 1.0
    mb_per_vcpu: float = 0.0
    machine: str = ""
    as_of: date | None = None
    source: str = ""


@dataclass(frozen=True, slots=True)
class TransferPrice:
    """Data transfer: internet egress, between zones, or between regions (GB as providers bill it)."""

    provider: str
    kind: Literal["internet-egress", "inter-zone", "inter-region"]
    usd_per_gb: float
    free_gb_per_month: float = 0.0
    note: str = ""
    as_of: date | None = None
    source: str = ""


@dataclass(frozen=True, slots=True)
class StoragePrice:
    """Object or block storage per GiB-month."""

    provider: str
    kind: Literal["object", "block"]
    name: str
    usd_per_gb_month: float
    as_of: date | None = None
    source: str = ""


@dataclass(frozen=True, slots=True)
class PlatformPrice:
    """A price of what runs around the machines: a control plane, a load balancer,
    an address, a NAT gateway, a function's front door, burstable surplus credits.

    ``item`` is the id the planner looks the price up by (``eks-control-plane``,
    ``alb-lcu-hour``, ...); ``usd`` is per ``unit``; ``free_units_per_month`` is
    a free allowance (a credit in dollars where the unit is ``month``).
    """

    provider: str
    item: str
    name: str
    usd: float
    unit: str
    free_units_per_month: float = 0.0
    as_of: date | None = None
    source: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class PriceOverride:
    """A user's own price for one offer (a negotiated discount, a private rate).

    Set fields replace the catalog's; ``discount_fraction`` (0.2 = 20 % off) is
    applied to the on-demand price when no explicit on-demand price is given.
    """

    provider: str
    region: str
    instance_type: str
    on_demand_usd_per_hour: float | None = None
    spot_usd_per_hour: float | None = None
    discount_fraction: float | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class TrainRun:
    """One attempt of a training run (a run killed and resumed has several), as measured.

    ``cost_usd`` is wall time x the hourly price of the machine the user named;
    ``energy_kwh`` and ``co2_kg`` are codecarbon's estimates. None where unknown.
    """

    run_dir: str
    started_at: datetime
    status: Literal["completed", "preempted", "failed"]
    wall_s: float
    resumed_from_step: int
    final_step: int
    instance_type: str | None = None
    region: str | None = None
    pricing: str | None = None
    usd_per_hour: float | None = None
    cost_usd: float | None = None
    energy_kwh: float | None = None
    co2_kg: float | None = None
    accuracy_test: float | None = None


@dataclass(frozen=True, slots=True)
class Variant:
    """One model artifact that can serve predictions, and how it was made from its parent.

    ``recipe`` holds the exact settings of the method (JSON-able), so the
    variant can be rebuilt and its numbers explained.
    """

    name: str
    format: Literal["torch", "onnx", "openvino"]
    precision: Literal["fp32", "fp16", "int8"]
    method: str
    path: str
    size_bytes: int
    parameter_count: int
    parent: str | None = None
    recipe: dict[str, Any] = field(default_factory=dict)


Basis = Literal["measured", "estimated"]


@dataclass(frozen=True, slots=True)
class CpuId:
    """What a CPU says it is beneath its marketing name, as /proc/cpuinfo prints it.

    x86: ``vendor`` ("GenuineIntel", "AuthenticAMD"), ``family``, ``model`` and
    ``stepping`` from CPUID. Arm: ``implementer`` and ``part`` from the MIDR
    register (0x41 is Arm Ltd, part 0xd0c a Neoverse N1). A cloud VM that hides
    its model name ("AMD EPYC Processor") still reports these.
    """

    vendor: str = ""
    family: int | None = None
    model: int | None = None
    stepping: int | None = None
    implementer: int | None = None
    part: int | None = None

    @property
    def label(self) -> str:
        """One line: "GenuineIntel family 6 model 143 stepping 8" or "implementer 0x41 part 0xd0c"."""
        if self.implementer is not None or self.part is not None:
            return f"implementer {_hex(self.implementer)} part {_hex(self.part)}"
        parts = [self.vendor] if self.vendor else []
        for name in ("family", "model", "stepping"):
            number = getattr(self, name)
            if number is not None:
                parts.append(f"{name} {number}")
        return " ".join(parts) or "no CPU id"


def _hex(number: int | None) -> str:
    return "?" if number is None else f"{number:#x}"


@dataclass(frozen=True, slots=True)
class Hardware:
    """The machine a Profile was measured (or estimated) on.

    ``cpu_flags`` keeps only the instruction-set features inference kernels
    use (AVX2, AVX-512, VNNI, AMX, Arm dot product, ...). ``threads_allowed``
    is what the cgroup CPU quota and affinity leave to a process. ``cpu_id``
    is the CPU's family and model numbers (None in profiles stored before
    mlcost read them, and where /proc/cpuinfo is missing). ``instance_type`` is
    the cloud machine type it ran on when the measurement was told it (a
    profiling Job sets ``MLCOST_INSTANCE_TYPE``): the planner then takes the
    profile as measured on that type, whatever name the CPU gives itself.
    """

    cpu_model: str
    machine: str
    cpu_flags: tuple[str, ...]
    logical_cpus: int
    physical_cores: int
    threads_allowed: int
    memory_gib: float
    gpu: str | None = None
    gpu_memory_gib: float | None = None
    cpu_id: CpuId | None = None
    instance_type: str | None = None

    @property
    def label(self) -> str:
        """One line for tables: CPU (cores) and GPU."""
        text = f"{self.cpu_model} ({self.physical_cores} cores, {self.threads_allowed} threads)"
        return f"{text} + {self.gpu}" if self.gpu else text


@dataclass(frozen=True, slots=True)
class Profile:
    """One measurement of a Variant on one machine (or an estimate, with its method).

    Latency is per request at batch 1 over the real length distribution of the
    user's test split; ``latency_spread`` is (max - min) / median of the p50
    over repeated rounds. Throughput is at ``batch_size``, the best of the
    batch sizes tried (``throughput_by_batch``: batch 1 is 1 / mean latency,
    larger batches are random rows cut into length buckets, as ``mlcost serve`` runs
    them). Accuracy is on the held-out test split with a 95 % bootstrap
    interval; ``agreement`` and ``mcnemar_p`` compare predictions with the
    baseline's, row by row. ``peak_memory_mib`` is the peak resident memory of
    the whole process serving the variant; ``model_memory_mib`` what loading
    and running the model added to it. ``method`` says how an estimate was
    made; ``variant_key`` is the build of the variant that was measured and
    ``data`` names the rows (source and digest), so a stale profile is seen.
    ``discordant`` counts the test rows only the baseline got right and those only
    this variant got right (None for the baseline and for older profiles): the
    paired interval of the accuracy drop is computed from them.
    """

    variant: str
    hardware: Hardware
    basis: Basis
    provider: str
    threads: int
    latency_ms_p50: float
    latency_ms_p95: float
    latency_ms_p99: float
    latency_spread: float
    latency_samples: int
    tokens_mean: float
    batch_size: int
    throughput_per_s: float
    throughput_by_batch: dict[int, float]
    accuracy: float | None
    accuracy_ci_low: float | None
    accuracy_ci_high: float | None
    agreement: float | None
    mcnemar_p: float | None
    test_samples: int
    peak_memory_mib: float
    model_memory_mib: float
    load_s: float
    size_bytes: int
    versions: dict[str, str]
    measured_at: datetime
    method: str = ""
    variant_key: str = ""
    data: str = ""
    discordant: tuple[int, int] | None = None
