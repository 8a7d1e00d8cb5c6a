"""`mlcost compress`, `variants list` and `profile` as a user runs them, on a tiny trained BERT."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
from tiny_model import train_tiny_teacher

from mlcost.cli.compress import ALL_METHODS, DEMO_METHODS
from mlcost.compress import CompressConfig

pytestmark = pytest.mark.slow
MLCOST = str(Path(sys.executable).with_name("mlcost"))
FAST = ["--methods", "onnx,int8-dynamic", "--latency-requests", "10"]


def run(*args: str, home: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MLCOST_DB_URL", "MLCOST_DEBUG")}
    env["MLCOST_HOME"] = str(home)
    result = subprocess.run(
        [MLCOST, *args], capture_output=True, text=True, env=env, check=False, timeout=300
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    model_dir, data = train_tiny_teacher(tmp_path_factory.mktemp("tiny"))
    return str(model_dir), str(data)


@pytest.fixture(scope="module")
def compressed(
    tiny: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict]:  # type: ignore[type-arg]
    home = tmp_path_factory.mktemp("ws")
    out = run("compress", "--model", tiny[0], "--data", tiny[1], *FAST, "--json", home=home)
    return home, json.loads(out.stdout)


def test_the_demo_builds_a_quantized_and_a_smaller_model_but_not_every_method(
    tmp_path: Path,
) -> None:
    demo = tuple(DEMO_METHODS.split(","))
    CompressConfig(out_dir=tmp_path, methods=demo).validate()
    assert {"int8-dynamic", "distilled"} <= set(demo) < set(ALL_METHODS.split(","))


def test_compress_json_has_variants_measured_profiles_and_one_recommendation(
    compressed: tuple[Path, dict],  # type: ignore[type-arg]
) -> None:
    _, report = compressed
    assert [v["name"] for v in report["variants"]] == ["baseline", "onnx-fp32", "int8-dynamic"]
    assert all(p["basis"] == "measured" for p in report["profiles"])
    assert sum(v["is_recommended"] for v in report["verdicts"]) == 1
    assert report["skipped"] == []


def test_variants_list_json_carries_the_latest_profile_figures_the_table_shows(
    compressed: tuple[Path, dict],  # type: ignore[type-arg]
) -> None:
    home, report = compressed
    listed = json.loads(run("variants", "list", "--json", home=home).stdout)
    measured = {p["variant"]: p for p in report["profiles"]}
    assert [v["name"] for v in listed] == [v["name"] for v in report["variants"]]
    for variant in listed:
        figures = variant["latest_profile"]
        profile = measured[variant["name"]]
        assert figures["latency_ms_p50"] == profile["latency_ms_p50"]
        assert figures["accuracy"] == profile["accuracy"]
        assert figures["basis"] == "measured"


def test_variants_list_json_has_null_figures_for_an_unmeasured_variant(
    compressed: tuple[Path, dict],  # type: ignore[type-arg]
    tmp_path: Path,
) -> None:
    from mlcost.core import Store, Variant, Workspace, from_jsonable

    _, report = compressed
    home = tmp_path / "ws"
    store = Store.open(Workspace.resolve(home).ensure().db_url)
    try:
        store.save_variant(from_jsonable(Variant, report["variants"][0]))
    finally:
        store.close()
    listed = json.loads(run("variants", "list", "--json", home=home).stdout)
    assert [(v["name"], v["latest_profile"]) for v in listed] == [("baseline", None)]


def test_a_second_run_reuses_variants_and_profiles_and_prints_the_table(
    tiny: tuple[str, str],
    compressed: tuple[Path, dict],  # type: ignore[type-arg]
) -> None:
    home, _ = compressed
    out = run("compress", "--model", tiny[0], "--data", tiny[1], *FAST, home=home).stdout
    assert "int8-dynamic: cached" in out and "profile from" in out
    assert "Variants, measured on" in out and "recommended:" in out
    listed = run("variants", "list", home=home).stdout
    assert "int8-dynamic" in listed and "onnx-fp32" in listed


def test_profile_measure_measures_again(
    tiny: tuple[str, str],
    compressed: tuple[Path, dict],  # type: ignore[type-arg]
) -> None:
    home, _ = compressed
    out = run(
        "profile",
        "measure",
        "int8-dynamic",
        "--model",
        tiny[0],
        "--data",
        tiny[1],
        "--latency-requests",
        "10",
        "--json",
        home=home,
    ).stdout
    profiles = json.loads(out)["profiles"]
    assert [p["variant"] for p in profiles] == ["baseline", "int8-dynamic"]
    bad = run("profile", "measure", "int9", home=home, check=False)
    assert bad.returncode == 2 and "no variant named 'int9'" in bad.stderr
    assert "now `mlcost profile measure" not in bad.stderr


def test_the_old_spelling_still_measures_and_says_it_is_now_profile_measure(
    compressed: tuple[Path, dict],  # type: ignore[type-arg]
) -> None:
    home, _ = compressed
    old = run("profile", "int9", home=home, check=False)
    notice, error = old.stderr.strip().splitlines()
    assert notice.startswith(
        "note: `mlcost profile VARIANT` is now `mlcost profile measure VARIANT`"
    )
    assert old.returncode == 2 and error.startswith("error: no variant named 'int9'")


def test_profile_import_takes_profiles_from_another_machine_and_refuses_bad_files(
    compressed: tuple[Path, dict],  # type: ignore[type-arg]
    tmp_path: Path,
) -> None:
    home, report = compressed
    other = dict(report["profiles"][-1])
    other["hardware"] = {
        **other["hardware"],
        "cpu_model": "Intel Xeon Platinum 8488C",
        "cpu_flags": ["avx512_vnni", "amx_int8"],
    }
    good = tmp_path / "c7i.json"
    good.write_text(json.dumps([other]))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([other, {**other, "latency_ms_p99": "fast"}]))
    result = run("profile", "import", str(bad), home=home, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().endswith(
        "profile 2: latency_ms_p99: Input should be a valid number, unable to parse string as a number"
    )
    assert len(result.stderr.strip().splitlines()) == 1
    out = run("profile", "import", str(good), home=home).stdout
    assert "imported measured profile of int8-dynamic on Intel Xeon Platinum 8488C" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data", "missing.csv"], "missing.csv"),
        (["--methods", "int4"], "unknown method 'int4'"),
        (["--model", "builtin:nope"], "unknown built-in model"),
        (["--calibration", "minmax"], "--calibration 'minmax'"),
    ],
)
def test_bad_input_is_one_line_before_any_work(
    tiny: tuple[str, str], tmp_path: Path, args: list[str], message: str
) -> None:
    base = {"--model": tiny[0], "--data": tiny[1]}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    flat = [item for pair in base.items() for item in pair] + [
        a for a in args if a not in base and a not in base.values()
    ]
    result = run("compress", *flat, home=tmp_path / "ws", check=False)
    assert result.returncode == 2, result.stdout
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "ws" / "artifacts" / "variants").exists()


def test_cascade_calibrate_writes_the_chosen_threshold_that_serve_reads(
    tiny: tuple[str, str],
    compressed: tuple[Path, dict],  # type: ignore[type-arg]
) -> None:
    home, _ = compressed
    args = [
        "cascade",
        "calibrate",
        "--tier1",
        "int8-dynamic",
        "--tier2",
        "onnx-fp32",
        "--model",
        tiny[0],
        "--data",
        tiny[1],
        "--alpha-pt",
        "5",
    ]
    shown = run(*args, home=home).stdout
    for method in ("guarantee", "conformal", "accuracy", "escalation", "fixed", "tier 2 alone"):
        assert method in shown
    record = json.loads((home / "cascade.json").read_text())
    assert record["chosen"]["method"] == "guarantee"
    assert record["tiers"] == ["int8-dynamic", "onnx-fp32"]
    assert record["rows"]["split"] == "validation" and record["rows"]["count"] > 0
    assert (
        record["machine"]["instance_type"] == "c7i.large" and record["machine"]["usd_per_hour"] > 0
    )
    fixed = next(c for c in record["choices"] if c["method"] == "fixed")
    assert fixed["threshold"] == 0.85 and 0 <= fixed["escalation_rate"] <= 1

    from mlcost.serve import load_serve_config, read_threshold

    serve_file = home / "serve.yaml"
    serve_file.write_text(
        "tiers: [{name: a, variant: int8-dynamic}, {name: b, variant: onnx-fp32}]\n"
        "cascade: {threshold_file: cascade.json}\n"
    )
    config = load_serve_config(serve_file)
    assert config.cascade.threshold_file is not None
    threshold = read_threshold(config.cascade.threshold_file)
    assert threshold.value == record["chosen"]["threshold"]
    assert "guarantee" in threshold.source and "validation rows" in threshold.source

    wrong = run(
        "cascade",
        "calibrate",
        "--tier1",
        "nope",
        "--tier2",
        "onnx-fp32",
        "--model",
        tiny[0],
        "--data",
        tiny[1],
        home=home,
        check=False,
    )
    assert wrong.returncode == 2 and "no variant 'nope'" in wrong.stderr
