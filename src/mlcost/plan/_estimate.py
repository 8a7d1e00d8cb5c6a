"""How one replica of a variant runs on a catalog offer: measured there, or estimated from a profile.

A profile measured on the offer's own CPU (or GPU) with the same threads is
used as it is, and so is one measured on the offer's very instance type (a
profiling Job records it: ``mlcost deploy profile-jobs``). Every other offer gets an estimate, labelled with its method
and inputs and with the measurement that would confirm it. The profile's CPU
is identified by its model name, else by its cpu family/model numbers
(catalog/data/cpu_ids.csv: cloud VMs often hide the name); a CPU neither
identifies is taken as the table's fastest core of its architecture, so
estimates from it never flatter.

CPU offers. A replica requests ``min(profile.threads, offer.vcpus)`` vCPUs
(its intra-op threads). Physical cores are counted honestly on both sides: on
an SMT machine two vCPUs are one core, and two busy threads on one core give
about 1.25x one thread, not 2x (Intel quotes up to 30 %, cpu-world 20 %:
http://www.cpu-world.com/Glossary/H/Hyper-Threading_technology.html), so each
SMT vCPU counts 0.625 of a core. Threads scale by Amdahl's law with a parallel
fraction of 0.9 (ONNX Runtime's BERT-base: 297 ms on 1 thread, 75 ms on the 8
threads of a 4-core Xeon W-2123, p ~ 0.93:
https://nightr.gitbook.io/nnopt/applications/1_bert). Core speed comes from
the machines table (catalog/data/machines.csv, relative to an EPYC Milan core).
INT8 variants also scale by the instruction set their kernels use, from the
profile machine's flags to the offer's (``INT8_ISA_SPEEDUP``). Burstable
machines (t3) are estimated at full speed: their credit balance is simulated
per minute (``plan/_credits.py``), which bills the CPU above the baseline in
unlimited mode and counts the minutes held to the baseline in standard mode.

GPU offers. Latency = a floor (host overhead and kernel launches of one
batch-1 request) + FLOPs / (peak at the variant's precision x efficiency).
Calibrated on NVIDIA's published BERT-base batch-1 latency on a T4, 2.2 ms
at 128 tokens in fp16 (https://developer.nvidia.com/blog/nlu-with-tensorrt-bert/):
22.4 GFLOP = 0.8 ms floor + 22.4 / (65 TFLOPS x 0.24). ONNX Runtime's CUDA
provider runs more, smaller kernels than a TensorRT engine, so its floor is
1.0 ms; torch eager launches one kernel per operator, 3.0 ms. fp32 runs on the
CUDA cores at 0.35 of their peak. INT8 ONNX variants are unfit: the CUDA
provider has no MatMulInteger / QAttention kernels. p99 on a GPU keeps the
profile's p99/p50 ratio (host-side tails: GC, scheduling), held within
[1.2, 2.0]. Inferentia, Trainium and TPU need a compiled model: unfit.

Memory. A replica fits when its peak resident memory fits what the node leaves
to pods: GKE's reservation (25 % of the first 4 GiB, 20 % of the next 4, 10 %
of the next 8, 6 % of the next 112, 2 % above; plus 100 MiB eviction
threshold: https://cloud.google.com/kubernetes-engine/docs/concepts/plan-node-sizes)
and 0.5 GiB of headroom. On a GPU the process also holds the CUDA libraries
(1 GiB on the host) and the weights plus 1 GiB of context and workspace on
the device.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlcost.catalog import (
    KNOWN_ACCELERATORS,
    KNOWN_MACHINES,
    MachineSpec,
    canonical_accelerator,
    identify_cpu,
    machine_spec,
)
from mlcost.core import Basis, Hardware, Offer, Profile, Variant
from mlcost.plan._fleet import EVICTION_HARD_MIB, gke_reserved_memory_mib

SMT_PAIR_SPEEDUP = 1.25
PARALLEL_FRACTION = 0.9
# INT8 GEMM speed of an instruction set relative to AVX2 without VNNI (three instructions
# per multiply-accumulate step). VNNI fuses them into one (Intel DL Boost:
# https://www.intel.com/content/www/us/en/developer/articles/technical/introduction-to-intel-deep-learning-boost-on-second-generation-intel-xeon-scalable.html);
# end to end, with the non-GEMM work of a small-batch encoder, we count 1.5x. AMX: 1.8x
# (Intel quotes >= 2x over Ice Lake at large batch; batch 1 fills tiles partly). Arm:
# dot-product kernels as AVX2; i8mm (MMLA) up to 30 % faster than dot product in ONNX
# Runtime (https://aws.amazon.com/blogs/machine-learning/accelerate-nlp-inference-with-onnx-runtime-on-aws-graviton-processors/).
INT8_ISA_SPEEDUP: tuple[tuple[str, str, float], ...] = (
    ("amx_int8", "AMX", 1.8),
    ("avx512_vnni", "AVX-512 VNNI", 1.5),
    ("avx_vnni", "AVX-VNNI", 1.4),
    ("avx512f", "AVX-512", 1.15),
    ("avx2", "AVX2", 1.0),
    ("i8mm", "Arm i8mm", 1.3),
    ("asimddp", "Arm dot product", 1.0),
    ("asimd", "Arm NEON", 0.6),
)
GPU_FLOOR_MS = {"onnx": 1.0, "torch": 3.0}
GPU_EFFICIENCY = {"fp32": 0.35, "fp16": 0.24}
GPU_P99_RATIO = (1.2, 2.0)
CUDA_HOST_MIB = 1024.0
CUDA_DEVICE_MIB = 1024.0
HEADROOM_MIB = 512.0


@dataclass(frozen=True, slots=True)
class ReplicaSpeed:
    """How one replica (one serving process) of a variant runs on one offer: measured or estimated."""

    variant: str
    offer_key: tuple[str, str, str]
    vcpus: float
    accelerators: int
    latency_ms_p50: float
    latency_ms_p99: float
    memory_mib: float
    basis: Basis
    method: str
    confirm_by: str
    # Rows per second at each batch size (the profile's throughput_by_batch, carried to this
    # offer); empty when unknown, and the replica is then modelled at batch 1.
    rows_per_s_by_batch: tuple[tuple[int, float], ...] = ()


@dataclass(frozen=True, slots=True)
class Unfit:
    """Why a variant cannot run on an offer (one line).

    ``latency_ms_p99`` is set when the replica runs there but too slowly for the
    SLO: the SLO, not the machine, is then what binds.
    """

    variant: str
    offer_key: tuple[str, str, str]
    reason: str
    latency_ms_p99: float | None = None


def replica_speed(
    profile: Profile, variant: Variant, offer: Offer, *, flops_per_inference: float | None = None
) -> ReplicaSpeed | Unfit:
    """One replica of ``variant`` on ``offer``, from ``profile`` (measured there, or estimated).

    ``flops_per_inference`` (from ``mlcost.runtime.count_flops`` at the
    profile's mean length) drives GPU estimates; without it they use
    2 x parameters x tokens, an upper bound. Returns Unfit, never raises, when
    the variant cannot run there or does not fit.
    """
    if offer.has_accelerator:
        return _on_accelerator(profile, variant, offer, flops_per_inference)
    return _on_cpu(profile, variant, offer)


def allocatable_mib(memory_gib: float) -> float:
    """Memory a node leaves to pods: GKE's reservation, the eviction threshold, 0.5 GiB headroom."""
    node_mib = memory_gib * 1024.0
    return node_mib - gke_reserved_memory_mib(node_mib) - EVICTION_HARD_MIB - HEADROOM_MIB


def _on_cpu(profile: Profile, variant: Variant, offer: Offer) -> ReplicaSpeed | Unfit:
    def unfit(reason: str) -> Unfit:
        return Unfit(variant.name, offer.key, reason)

    machine = machine_spec(offer)
    if machine is None:
        return unfit(
            f"no CPU facts for {offer.instance_type}: add its family to catalog/data/machines.csv"
        )
    if _measured_on_gpu(profile):
        return unfit(
            f"the profile was measured on a GPU ({profile.provider}); profile {variant.name} on a CPU first"
        )
    memory_mib = profile.peak_memory_mib
    allowed = allocatable_mib(offer.memory_gib)
    if memory_mib > allowed:
        return unfit(
            f"needs {memory_mib:.0f} MiB, {offer.instance_type} leaves {allowed:.0f} MiB to a pod after system reserve"
        )
    vcpus = min(profile.threads, offer.vcpus)
    if _is_same_cpu(profile, machine, offer, vcpus):
        return _measured(profile, variant, offer, vcpus, 0, memory_mib)
    return _estimate_cpu(profile, variant, offer, machine, vcpus, memory_mib)


def fastest_core(machine: str) -> float:
    """The fastest core speed of the machines table for an architecture (x86_64, arm64).

    An unknown profile CPU is taken as this fast, so scaling from it to any offer
    can only make the estimate slower, never flatter it.
    """
    arch = "arm64" if machine in ("aarch64", "arm64") else "x86_64"
    return max(
        (spec.core_speed for spec in KNOWN_MACHINES.values() if spec.arch == arch), default=1.0
    )


def estimate_on_function(
    profile: Profile, variant: Variant, offer: Offer, machine: MachineSpec, vcpus: int
) -> ReplicaSpeed:
    """One function instance of ``variant`` with ``vcpus`` of ``machine``'s CPU, estimated.

    Serverless functions have no node and no kubelet, so no memory reservation:
    the caller sizes the function's memory.
    """
    return _estimate_cpu(profile, variant, offer, machine, vcpus, profile.peak_memory_mib)


def _estimate_cpu(
    profile: Profile,
    variant: Variant,
    offer: Offer,
    machine: MachineSpec,
    vcpus: int,
    memory_mib: float,
) -> ReplicaSpeed:
    hardware = profile.hardware
    profile_speed, profile_cpu = _profile_core(hardware)
    profile_smt = hardware.logical_cpus > hardware.physical_cores
    used = min(profile.threads, hardware.threads_allowed)
    profile_cores = _effective_cores(used, hardware.physical_cores, hardware.logical_cpus)
    share = SMT_PAIR_SPEEDUP / machine.threads_per_core if machine.has_smt else 1.0
    offer_cores = vcpus * share
    thread_factor = _amdahl(offer_cores) / _amdahl(profile_cores)
    core_factor = machine.core_speed / profile_speed
    isa_factor, isa_text = 1.0, ""
    if variant.precision == "int8":
        to_name, to_speed = _int8_isa(machine.cpu_flags)
        from_name, from_speed = _int8_isa(hardware.cpu_flags)
        isa_factor = to_speed / from_speed
        isa_text = f", int8 {to_name} vs {from_name} x{isa_factor:.2f}"
    scale = thread_factor / core_factor / isa_factor
    smt_text = f" (SMT: {SMT_PAIR_SPEEDUP}x per core pair)" if machine.has_smt else ""
    burst_text = (
        f", burstable ({machine.baseline_share:.0%} baseline): full speed while it has credits "
        "(the balance simulated per minute)"
        if machine.is_burstable
        else ""
    )
    method = (
        f"{machine.cpu_model} core {core_factor:.2f}x the profile's {profile_cpu}; "
        f"{vcpus} vCPU = {offer_cores:.2f} core-equivalents{smt_text} vs {profile_cores:.2f} measured "
        f"({used} threads on {hardware.physical_cores} cores{', SMT' if profile_smt else ''}, "
        f"{profile.provider}), Amdahl p={PARALLEL_FRACTION}{isa_text}{burst_text}"
    )
    return ReplicaSpeed(
        variant=variant.name,
        offer_key=offer.key,
        vcpus=float(vcpus),
        accelerators=0,
        latency_ms_p50=profile.latency_ms_p50 * scale,
        latency_ms_p99=profile.latency_ms_p99 * scale,
        memory_mib=memory_mib,
        basis="estimated",
        method=method,
        confirm_by=_confirm_by(offer, vcpus),
        # Every batch size scales as batch 1 does.
        rows_per_s_by_batch=tuple(
            (b, rate / scale) for b, rate in sorted(profile.throughput_by_batch.items())
        ),
    )


def _profile_core(hardware: Hardware) -> tuple[float, str]:
    """The profile CPU's core speed, and the method's words for it: how it was identified."""
    identity = identify_cpu(hardware)
    if identity is not None and identity.core_speed is not None:
        return identity.core_speed, (
            f"{hardware.cpu_model} (identified {identity.how}, {identity.core_speed:.2f}x)"
        )
    speed = fastest_core(hardware.machine)
    fallback = f"taken as the fastest known core, {speed:.2f}x, so the estimate never flatters"
    if identity is None:
        cpu_id = f", {hardware.cpu_id.label}" if hardware.cpu_id is not None else ""
        return speed, f"{hardware.cpu_model}{cpu_id} (unknown: {fallback})"
    return (
        speed,
        f"{hardware.cpu_model} ({identity.how}, a core the machines table lacks: {fallback})",
    )


def _on_accelerator(
    profile: Profile, variant: Variant, offer: Offer, flops: float | None
) -> ReplicaSpeed | Unfit:
    def unfit(reason: str) -> Unfit:
        return Unfit(variant.name, offer.key, reason)

    name = offer.accelerator_name or ""
    spec = KNOWN_ACCELERATORS.get(name)
    if spec is None:
        return unfit(f"unknown accelerator {name!r}: add it to catalog/_accelerators.py")
    if spec.kind in ("inferentia", "trainium"):
        return unfit(f"{name} needs a Neuron-compiled model; mlcost does not build one yet")
    if spec.kind == "tpu":
        return unfit(f"{name} needs an XLA-compiled model; mlcost does not build one yet")
    if variant.format == "openvino":
        return unfit("OpenVINO variants are planned on CPUs: mlcost builds them for its CPU plugin")
    if variant.precision == "int8":
        if variant.format == "onnx":
            return unfit(
                "int8 ONNX variants need a CPU: ONNX Runtime's CUDA provider has no MatMulInteger kernel"
            )
        return unfit(
            "int8 torch variants need a CPU: torch's dynamic int8 kernels run on the CPU only"
        )
    peak = spec.peak_tflops(variant.precision)
    if peak is None:
        return unfit(f"no published {variant.precision} peak for {name}")
    device_mib = variant.size_bytes / 2**20 + CUDA_DEVICE_MIB
    device_have = (offer.accelerator_memory_gib or spec.memory_gib) * 1024.0
    if device_mib > device_have:
        return unfit(f"needs {device_mib:.0f} MiB on the {name}, which has {device_have:.0f} MiB")
    memory_mib = profile.peak_memory_mib + CUDA_HOST_MIB
    allowed = allocatable_mib(offer.memory_gib)
    if memory_mib > allowed:
        return unfit(
            f"needs {memory_mib:.0f} MiB of host memory, {offer.instance_type} leaves {allowed:.0f} MiB"
        )
    vcpus = max(1, min(profile.threads, offer.vcpus // offer.accelerator_count))
    if _is_same_gpu(profile, name, offer):
        return _measured(profile, variant, offer, vcpus, 1, memory_mib)
    if flops is None:
        flops, flops_text = (
            2.0 * variant.parameter_count * profile.tokens_mean,
            "2 x params x tokens (upper bound)",
        )
    else:
        flops_text = "counted from the ONNX graph"
    efficiency = GPU_EFFICIENCY.get(variant.precision, GPU_EFFICIENCY["fp32"])
    floor_ms = GPU_FLOOR_MS[variant.format]
    compute_ms = flops / (peak * 1e12 * efficiency) * 1e3
    p50 = floor_ms + compute_ms
    low, high = GPU_P99_RATIO
    ratio = min(high, max(low, profile.latency_ms_p99 / profile.latency_ms_p50))
    method = (
        f"{flops / 1e9:.2f} GFLOP ({flops_text}, {profile.tokens_mean:.0f} tokens) / "
        f"({name} {variant.precision} peak {peak:g} TFLOPS x {efficiency} efficiency) = {compute_ms:.2f} ms "
        f"+ {floor_ms} ms {variant.format} floor; p99 = p50 x {ratio:.2f}; a batch of b: "
        "one floor + b x the compute"
    )
    # A batch launches its kernels once: the floor is paid per batch, the FLOPs per row.
    batches = tuple(
        (b, b / ((floor_ms + b * compute_ms) / 1e3))
        for b in sorted({1, *profile.throughput_by_batch})
    )
    return ReplicaSpeed(
        variant=variant.name,
        offer_key=offer.key,
        vcpus=float(vcpus),
        accelerators=1,
        latency_ms_p50=p50,
        latency_ms_p99=p50 * ratio,
        memory_mib=memory_mib,
        basis="estimated",
        method=method,
        confirm_by=_confirm_by(offer, vcpus),
        rows_per_s_by_batch=batches,
    )


def _measured(
    profile: Profile,
    variant: Variant,
    offer: Offer,
    vcpus: int,
    accelerators: int,
    memory_mib: float,
) -> ReplicaSpeed:
    hardware = profile.hardware
    where = (hardware.gpu or profile.provider) if accelerators else hardware.cpu_model
    if hardware.instance_type:
        where = f"{hardware.instance_type} ({where})"
    return ReplicaSpeed(
        variant=variant.name,
        offer_key=offer.key,
        vcpus=float(vcpus),
        accelerators=accelerators,
        latency_ms_p50=profile.latency_ms_p50,
        latency_ms_p99=profile.latency_ms_p99,
        memory_mib=memory_mib,
        basis="measured",
        method=f"measured on {where} with {profile.threads} threads ({profile.measured_at:%Y-%m-%d})",
        confirm_by="",
        rows_per_s_by_batch=tuple(sorted(profile.throughput_by_batch.items())),
    )


def _is_same_cpu(profile: Profile, machine: MachineSpec, offer: Offer, vcpus: int) -> bool:
    """A measured profile with its threads on this offer's instance type, or on its CPU with
    the same SMT layout."""
    hardware = profile.hardware
    return (
        profile.basis == "measured"
        and vcpus == min(profile.threads, hardware.threads_allowed)
        and (
            hardware.instance_type == offer.instance_type
            or (
                machine.matches_cpu(hardware.cpu_model)
                and (hardware.logical_cpus > hardware.physical_cores) == machine.has_smt
            )
        )
    )


def _is_same_gpu(profile: Profile, accelerator: str, offer: Offer) -> bool:
    """A profile measured on a GPU of this offer's instance type, or on its accelerator."""
    gpu = profile.hardware.gpu
    return (
        profile.basis == "measured"
        and _measured_on_gpu(profile)
        and (
            profile.hardware.instance_type == offer.instance_type
            or (gpu is not None and canonical_accelerator(gpu) == accelerator)
        )
    )


def _measured_on_gpu(profile: Profile) -> bool:
    provider = profile.provider.lower()
    return "cuda" in provider or "tensorrt" in provider


def _effective_cores(threads: int, physical: int, logical: int) -> float:
    """Core-equivalents ``threads`` busy threads get: one per core, then SMT siblings at 0.25."""
    threads = max(1, min(threads, max(logical, physical)))
    alone = min(threads, physical)
    return alone + (threads - alone) * (SMT_PAIR_SPEEDUP - 1.0)


def _amdahl(cores: float) -> float:
    """Time on ``cores`` core-equivalents relative to one core (below one core, all of it slows)."""
    if cores < 1.0:
        return 1.0 / cores
    return (1.0 - PARALLEL_FRACTION) + PARALLEL_FRACTION / cores


def _int8_isa(flags: tuple[str, ...]) -> tuple[str, float]:
    present = set(flags)
    for flag, name, speedup in INT8_ISA_SPEEDUP:
        if flag in present:
            return name, speedup
    return "scalar", 0.5


def _confirm_by(offer: Offer, vcpus: int) -> str:
    return (
        f"run `mlcost profile measure --threads {vcpus} --json > profiles.json` on an "
        f"{offer.provider} {offer.instance_type}, then `mlcost profile import profiles.json` here"
    )
