"""The machines table: every shipped offer's family is in it, with a source."""

from __future__ import annotations

from mlcost.catalog import (
    KNOWN_ACCELERATORS,
    instance_family,
    load_shipped,
    machine_spec,
    match_cpu,
)


def test_every_shipped_offer_has_a_machine_row_with_a_source() -> None:
    for offer in load_shipped().offers:
        spec = machine_spec(offer)
        assert spec is not None, offer.instance_type
        assert spec.source.startswith("http"), spec.family
        assert spec.arch == offer.arch, offer.instance_type
        assert 0.0 < spec.core_speed < 2.0 and 0.0 < spec.baseline_share <= 1.0


def test_family_keys_per_provider() -> None:
    assert instance_family("aws", "c6i.large") == "c6i"
    assert instance_family("gcp", "n2-standard-2") == "n2"
    assert instance_family("azure", "Standard_NC4as_T4_v3") == "NCas_T4_v3"
    assert instance_family("azure", "Standard_D2s_v5") == "Ds_v5"


def test_known_facts() -> None:
    offers = {o.instance_type: o for o in load_shipped().offers}
    c6i, c7g, t3 = (machine_spec(offers[n]) for n in ("c6i.large", "c7g.large", "t3.medium"))
    assert c6i is not None and c6i.has_smt and "avx512_vnni" in c6i.cpu_flags
    assert c7g is not None and not c7g.has_smt and "i8mm" in c7g.cpu_flags
    assert t3 is not None and t3.is_burstable and t3.baseline_share == 0.2
    spec = match_cpu("Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz")
    assert spec is not None and "Ice Lake" in spec.cpu_model
    assert match_cpu("AMD EPYC") is None


def test_gpu_peaks_have_sources_and_grow_with_precision() -> None:
    t4 = KNOWN_ACCELERATORS["T4"]
    assert (t4.peak_tflops("fp32"), t4.peak_tflops("fp16"), t4.peak_tflops("int8")) == (
        8.1,
        65.0,
        130.0,
    )
    for spec in KNOWN_ACCELERATORS.values():
        if spec.kind == "gpu":
            fp32, fp16 = spec.peak_tflops("fp32"), spec.peak_tflops("fp16")
            assert fp32 is not None and fp16 is not None and fp16 > fp32, spec.name
            assert spec.peak_source.startswith("http"), spec.name
