"""Replica speed on every catalog offer: measured where the profile was taken, else estimated."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import pytest

from mlcost.catalog import load_shipped
from mlcost.core import CpuId, Hardware, Offer, Profile, Variant
from mlcost.plan._estimate import GPU_FLOOR_MS, ReplicaSpeed, Unfit, replica_speed
from mlcost.runtime import read_hardware

EPYC = Hardware("AMD EPYC", "x86_64", ("avx", "avx2", "fma"), 2, 2, 2, 23.5)
ICE_LAKE_1C = Hardware(
    "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz",
    "x86_64",
    ("avx2", "fma", "avx512f", "avx512_vnni"),
    2,
    1,
    2,
    4.0,
)


def _profile(name: str = "int8-dynamic", hardware: Hardware = EPYC, **changes: Any) -> Profile:
    profile = Profile(
        variant=name,
        hardware=hardware,
        basis="measured",
        provider="CPUExecutionProvider",
        threads=2,
        latency_ms_p50=7.0,
        latency_ms_p95=10.0,
        latency_ms_p99=12.0,
        latency_spread=0.05,
        latency_samples=500,
        tokens_mean=33.0,
        batch_size=1,
        throughput_per_s=140.0,
        throughput_by_batch={1: 140.0},
        accuracy=0.9,
        accuracy_ci_low=0.88,
        accuracy_ci_high=0.92,
        agreement=0.97,
        mcnemar_p=0.5,
        test_samples=500,
        peak_memory_mib=260.0,
        model_memory_mib=190.0,
        load_s=0.5,
        size_bytes=23_000_000,
        versions={},
        measured_at=datetime(2026, 7, 1),
    )
    return dataclasses.replace(profile, **changes)


def _variant(precision: str = "int8", fmt: str = "onnx", name: str = "int8-dynamic") -> Variant:
    return Variant(name, fmt, precision, "dynamic-int8", "/tmp/v", 23_000_000, 22_700_000)  # type: ignore[arg-type]


def _offer(instance_type: str, vcpus: int = 2, memory_gib: float = 8.0, **changes: Any) -> Offer:
    offer = Offer("aws", "us-east-1", instance_type, vcpus, memory_gib, "x86_64", 0.1)
    return dataclasses.replace(offer, **changes)


OFFERS = load_shipped().offers


@pytest.mark.parametrize(
    ("variant", "profile"),
    [
        (_variant(), _profile()),
        (_variant("fp32"), _profile("onnx-fp32")),
        (
            _variant("fp32", "torch", "baseline"),
            _profile("baseline", provider="torch", peak_memory_mib=1700.0),
        ),
    ],
)
def test_every_offer_gets_a_speed_or_a_reason(variant: Variant, profile: Profile) -> None:
    for offer in OFFERS:
        result = replica_speed(profile, variant, offer, flops_per_inference=7.1e8)
        if isinstance(result, Unfit):
            assert result.reason and "\n" not in result.reason
            continue
        assert result.basis == "estimated" and result.latency_ms_p50 > 0
        assert result.latency_ms_p99 >= result.latency_ms_p50
        assert result.confirm_by and offer.instance_type in result.confirm_by
        assert (result.accelerators > 0) == offer.has_accelerator


def test_int8_onnx_is_unfit_on_gpu_and_neuron_needs_compiling() -> None:
    by_type = {o.instance_type: o for o in OFFERS}
    gpu = replica_speed(_profile(), _variant(), by_type["g4dn.xlarge"])
    assert isinstance(gpu, Unfit) and "MatMulInteger" in gpu.reason
    neuron = replica_speed(_profile("onnx-fp32"), _variant("fp32"), by_type["inf2.xlarge"])
    assert isinstance(neuron, Unfit) and "Neuron" in neuron.reason


def test_faster_cores_give_lower_latency() -> None:
    by_type = {o.instance_type: o for o in OFFERS}
    slow = replica_speed(_profile("onnx-fp32"), _variant("fp32"), by_type["n1-standard-4"])
    fast = replica_speed(_profile("onnx-fp32"), _variant("fp32"), by_type["c4-standard-4"])
    assert isinstance(slow, ReplicaSpeed) and isinstance(fast, ReplicaSpeed)
    assert fast.latency_ms_p50 < slow.latency_ms_p50
    assert "Emerald Rapids" in fast.method and "1.20x" in fast.method


def test_smt_vcpus_are_slower_than_whole_cores() -> None:
    profile, variant = _profile("onnx-fp32"), _variant("fp32")
    smt = replica_speed(profile, variant, _offer("m6i.large"))  # Ice Lake 1.05x, 2 vCPUs = 1 core
    whole = replica_speed(
        profile, variant, _offer("m7g.large", arch="arm64")
    )  # Graviton3 0.95x, 2 cores
    assert isinstance(smt, ReplicaSpeed) and isinstance(whole, ReplicaSpeed)
    assert "1.25 core-equivalents" in smt.method and "2.00 core-equivalents" in whole.method
    assert whole.latency_ms_p50 < smt.latency_ms_p50


def test_vnni_speeds_up_int8_only() -> None:
    offer = _offer("c6i.large", memory_gib=4.0)
    int8 = replica_speed(_profile(), _variant(), offer)
    fp32 = replica_speed(_profile("onnx-fp32"), _variant("fp32"), offer)
    assert isinstance(int8, ReplicaSpeed) and isinstance(fp32, ReplicaSpeed)
    assert "AVX-512 VNNI vs AVX2 x1.50" in int8.method and "int8" not in fp32.method
    assert int8.latency_ms_p50 / 7.0 < fp32.latency_ms_p50 / 7.0


def test_burstable_is_estimated_at_full_speed_its_credits_simulated_apart() -> None:
    # The credit balance (plan/_credits.py) bills or throttles the CPU above the baseline.
    t3 = replica_speed(_profile(), _variant(), _offer("t3.medium", memory_gib=4.0))
    assert isinstance(t3, ReplicaSpeed) and "20% baseline" in t3.method
    assert "credits" in t3.method
    assert 7.0 < t3.latency_ms_p50 < 5 * 7.0  # a slower core and SMT, not the x5 throttle


def test_profile_on_the_offers_cpu_stays_measured() -> None:
    profile = _profile(hardware=ICE_LAKE_1C)
    result = replica_speed(profile, _variant(), _offer("c6i.large", memory_gib=4.0))
    assert isinstance(result, ReplicaSpeed) and result.basis == "measured"
    assert (result.latency_ms_p50, result.latency_ms_p99, result.confirm_by) == (7.0, 12.0, "")
    other = replica_speed(profile, _variant(), _offer("c7i.large", memory_gib=4.0))
    assert isinstance(other, ReplicaSpeed) and other.basis == "estimated"


def _estimate_on(
    hardware: Hardware, instance_type: str = "c6i.large", **offer: Any
) -> ReplicaSpeed:
    result = replica_speed(
        _profile("onnx-fp32", hardware=hardware), _variant("fp32"), _offer(instance_type, **offer)
    )
    assert isinstance(result, ReplicaSpeed) and result.basis == "estimated"
    return result


GENERIC_XEON = """processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: {model}
model name\t: Intel(R) Xeon(R) Processor
stepping\t: 1
flags\t\t: fpu avx avx2 fma avx512f avx512_vnni amx_int8
"""


def test_a_generic_model_name_is_identified_by_cpu_family_and_model() -> None:
    sapphire_rapids = _estimate_on(read_hardware(GENERIC_XEON.format(model=143)))
    assert (
        "Intel(R) Xeon(R) Processor (identified by cpu family/model (Sapphire Rapids), 1.15x)"
        in (sapphire_rapids.method)
    )
    # Known at 1.15 instead of assumed at the table's fastest 1.20: less pessimistic, still not 1.05.
    unknown = _estimate_on(read_hardware(GENERIC_XEON.format(model=167)))
    assert sapphire_rapids.latency_ms_p50 < unknown.latency_ms_p50
    assert sapphire_rapids.latency_ms_p50 == pytest.approx(unknown.latency_ms_p50 * 1.15 / 1.20)


def test_an_unknown_cpu_is_taken_as_the_fastest_known_core_and_its_id_is_shown() -> None:
    unknown = _estimate_on(read_hardware(GENERIC_XEON.format(model=167)))
    assert (
        "Intel(R) Xeon(R) Processor, GenuineIntel family 6 model 167 stepping 1 "
        "(unknown: taken as the fastest known core, 1.20x, so the estimate never flatters)"
    ) in unknown.method
    old_profile = _estimate_on(EPYC)  # stored before mlcost read CPU ids
    assert "AMD EPYC (unknown: taken as the fastest known core, 1.20x" in old_profile.method


def test_a_known_model_name_and_an_amd_or_arm_id_say_how_they_were_identified() -> None:
    by_name = _estimate_on(ICE_LAKE_1C, "c7i.large")
    assert "8375C CPU @ 2.90GHz (identified by model name, 1.05x)" in by_name.method
    milan = _estimate_on(dataclasses.replace(EPYC, cpu_id=CpuId("AuthenticAMD", 25, 1, 1)))
    assert "(identified by cpu family/model (Milan), 1.00x)" in milan.method
    altra = Hardware("unknown", "aarch64", ("asimd", "asimddp"), 2, 2, 2, 8.0)
    n1 = _estimate_on(
        dataclasses.replace(altra, cpu_id=CpuId(implementer=0x41, part=0xD0C)),
        "m7g.large",
        arch="arm64",
    )
    assert "(identified by cpu family/model (Neoverse N1), 0.70x)" in n1.method
    assert (
        "(unknown: taken as the fastest known core, 1.10x"
        in _estimate_on(altra, "m7g.large", arch="arm64").method
    )


def test_a_known_core_without_a_machine_row_is_still_taken_as_the_fastest() -> None:
    genoa = _estimate_on(dataclasses.replace(EPYC, cpu_id=CpuId("AuthenticAMD", 25, 17, 1)))
    assert (
        "(by cpu family/model (Genoa), a core the machines table lacks: taken as the fastest known "
        "core, 1.20x"
    ) in genoa.method
    assert genoa.latency_ms_p50 == _estimate_on(EPYC).latency_ms_p50


def test_gpu_latency_respects_the_floor_and_memory() -> None:
    offer = next(o for o in OFFERS if o.instance_type == "g5.xlarge")
    tiny = replica_speed(_profile("onnx-fp32"), _variant("fp32"), offer, flops_per_inference=1.0)
    assert isinstance(tiny, ReplicaSpeed) and tiny.latency_ms_p50 >= GPU_FLOOR_MS["onnx"]
    big = replica_speed(_profile("onnx-fp32"), _variant("fp32"), offer, flops_per_inference=1e12)
    assert isinstance(big, ReplicaSpeed) and big.latency_ms_p50 > tiny.latency_ms_p50
    assert (
        "A10G fp32 peak 31.5 TFLOPS" in big.method and "counted from the ONNX graph" in big.method
    )
    huge = dataclasses.replace(_variant("fp32"), size_bytes=40 * 2**30)
    assert isinstance(replica_speed(_profile("onnx-fp32"), huge, offer), Unfit)


def test_model_too_big_for_the_machine_is_unfit() -> None:
    result = replica_speed(
        _profile(peak_memory_mib=3500.0), _variant(), _offer("c6i.large", memory_gib=4.0)
    )
    assert isinstance(result, Unfit) and "MiB" in result.reason


def test_fast_enough_for_the_planner() -> None:
    import time

    profile, variant = _profile(), _variant()
    start = time.perf_counter()
    for offer in OFFERS * 5:
        replica_speed(profile, variant, offer, flops_per_inference=7.1e8)
    per_call_ms = (time.perf_counter() - start) * 1e3 / (len(OFFERS) * 5)
    assert per_call_ms < 1.0
