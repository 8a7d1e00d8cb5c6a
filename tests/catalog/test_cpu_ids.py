"""The CPU-id table: a CPU behind a generic model name is known by its family and model."""

from __future__ import annotations

import pytest

from mlcost.catalog import KNOWN_CPU_IDS, KNOWN_MACHINES, identify_cpu, microarchitecture
from mlcost.core import CpuId, Hardware


def _hardware(cpu_model: str, cpu_id: CpuId | None, machine: str = "x86_64") -> Hardware:
    return Hardware(cpu_model, machine, ("avx2",), 2, 1, 2, 8.0, cpu_id=cpu_id)


@pytest.mark.parametrize(
    ("hardware", "how", "core_speed"),
    [
        (
            _hardware("Intel(R) Xeon(R) Processor", CpuId("GenuineIntel", 6, 143, 8)),
            "by cpu family/model (Sapphire Rapids)",
            1.15,
        ),
        (
            _hardware("AMD EPYC Processor", CpuId("AuthenticAMD", 25, 1, 1)),
            "by cpu family/model (Milan)",
            1.00,
        ),
        (
            _hardware("unknown", CpuId(implementer=0x41, part=0xD0C), "aarch64"),
            "by cpu family/model (Neoverse N1)",
            0.70,
        ),
        (
            # The model name wins over the numbers (which here would say Sapphire Rapids).
            _hardware("Intel(R) Xeon(R) Platinum 8375C CPU", CpuId("GenuineIntel", 6, 143, 8)),
            "by model name",
            1.05,
        ),
    ],
)
def test_a_cpu_is_identified_by_name_else_by_family_and_model(
    hardware: Hardware, how: str, core_speed: float
) -> None:
    identity = identify_cpu(hardware)
    assert identity is not None and identity.how == how
    assert identity.core_speed == core_speed


def test_an_unknown_model_or_a_profile_without_an_id_is_not_identified() -> None:
    # Family 6 model 167 is a client part (Rocket Lake): no server row claims it.
    assert (
        identify_cpu(_hardware("Intel(R) Xeon(R) Processor", CpuId("GenuineIntel", 6, 167, 1)))
        is None
    )
    assert identify_cpu(_hardware("AMD EPYC", None)) is None
    # The same numbers from the other vendor are a different CPU.
    assert identify_cpu(_hardware("x", CpuId("AuthenticAMD", 6, 143, 8))) is None


def test_model_85_is_told_apart_by_stepping() -> None:
    names = [
        row.microarchitecture if row else None
        for row in (microarchitecture(CpuId("GenuineIntel", 6, 85, s)) for s in (4, 7, 11, 9))
    ]
    assert names == ["Skylake", "Cascade Lake", "Cooper Lake", None]


def test_where_several_machine_rows_name_the_core_the_fastest_is_taken() -> None:
    # gcp n2 names Ice Lake at 0.90 (it may be Cascade Lake); c6i's Ice Lake is 1.05.
    assert any("Ice Lake" in s.cpu_model and s.core_speed < 1.05 for s in KNOWN_MACHINES.values())
    identity = identify_cpu(
        _hardware("Intel(R) Xeon(R) Processor", CpuId("GenuineIntel", 6, 106, 6))
    )
    assert identity is not None and identity.core_speed == 1.05


def test_a_known_core_the_machines_table_lacks_has_no_speed() -> None:
    identity = identify_cpu(_hardware("AMD EPYC Processor", CpuId("AuthenticAMD", 25, 17, 1)))
    assert identity is not None and identity.how == "by cpu family/model (Genoa)"
    assert identity.core_speed is None and identity.machine is None


def test_every_row_has_a_source_and_no_cpu_id_falls_in_two_rows() -> None:
    for row in KNOWN_CPU_IDS:
        assert row.source.startswith("https://"), row.microarchitecture
        assert row.arch in ("x86_64", "arm64") and row.models[0] <= row.models[1]
        for number in range(row.models[0], row.models[1] + 1):
            for stepping in range(16):
                probe = (
                    CpuId(implementer=int(row.vendor, 16), part=number)
                    if row.arch == "arm64"
                    else CpuId(row.vendor, row.family, number, stepping)
                )
                assert sum(other.matches(probe) for other in KNOWN_CPU_IDS) <= 1, probe
