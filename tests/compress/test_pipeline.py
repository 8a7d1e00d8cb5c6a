"""The whole compress + profile pipeline on a tiny BERT trained in the test."""

from __future__ import annotations

import csv
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
from tiny_model import train_tiny_teacher

from mlcost.compress import (
    CompressConfig,
    DistillSettings,
    PruneSettings,
    build_variants,
    check_inputs,
)
from mlcost.core import CompressError, MlcostError
from mlcost.profile import HeldOutRows, MeasureSettings, profile_variant, recommend
from mlcost.runtime import load_tokenizer, open_session, predict_logits, read_hardware, tokenize

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def teacher(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(model folder, data CSV) of a tiny BERT fine-tuned by mlcost train."""
    return train_tiny_teacher(tmp_path_factory.mktemp("teacher"))


@pytest.fixture(scope="module")
def built(teacher: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    model_dir, data = teacher
    inputs = check_inputs(model_dir, str(data))
    config = CompressConfig(
        out_dir=tmp_path_factory.mktemp("variants"),
        calibration_samples=16,
        prune=PruneSettings(heads_keep=0.5, ffn_keep=0.5),
        prune_train_samples=None,
        distill=DistillSettings(student_layers=1, train_samples=None, epochs=4, learning_rate=3e-3),
    )
    lines: list[str] = []
    return inputs, config, build_variants(inputs, config, log=lines.append), lines


def test_every_variant_is_built_with_its_parent_and_recipe(built) -> None:  # type: ignore[no-untyped-def]
    _, _, result, _ = built
    parents = {v.name: v.parent for v in result.variants}
    assert parents == {
        "baseline": None,
        "onnx-fp32": "baseline",
        "int8-dynamic": "onnx-fp32",
        "int8-static": "baseline",
        "pruned": "baseline",
        "pruned-onnx": "pruned",
        "pruned-int8": "pruned-onnx",
        "distilled": "baseline",
        "distilled-onnx": "distilled",
        "distilled-int8": "distilled-onnx",
    }
    assert [s.method for s in result.skipped] == ["fp16"]
    assert "no CUDA GPU" in result.skipped[0].reason
    for variant in result.variants[1:]:
        assert (Path(variant.path) / "variant.json").is_file()
        assert variant.recipe["key"]
    by_name = {v.name: v for v in result.variants}
    # Sizes: test_onnx checks that every recipe shrinks its source graph (the tiny model's
    # graph outweighs its weights, so a plain-graph INT8 may outweigh the fused FP32 here).
    assert by_name["int8-dynamic"].recipe["int8"]["activations"] == "dynamic"
    assert by_name["distilled"].parameter_count < by_name["baseline"].parameter_count
    assert by_name["pruned"].parameter_count < by_name["baseline"].parameter_count
    assert by_name["distilled"].recipe["student_layers_from_teacher"] == [1]


def test_each_variant_agrees_with_its_parent(built) -> None:  # type: ignore[no-untyped-def]
    inputs, _, result, _ = built
    by_name = {v.name: v for v in result.variants}
    tokenizer = load_tokenizer(by_name["baseline"])
    ids = tokenize(tokenizer, [inputs.data.texts[i] for i in inputs.split.validation])
    logits = {
        v.name: predict_logits(open_session(v, threads=1), ids, tokenizer.pad_token_id)
        for v in result.variants
    }
    for variant in result.variants[1:]:
        parent = logits[str(variant.parent)]
        child = logits[variant.name]
        if variant.method == "onnx-export+fusions":
            np.testing.assert_allclose(child, parent, atol=1e-3)
        elif variant.precision == "int8":
            assert np.mean(child.argmax(1) == parent.argmax(1)) >= 0.9, variant.name
        assert variant.recipe.get("vs_parent", {"agreement": 1})["agreement"] >= 0.9


def test_a_second_run_reuses_every_variant(built) -> None:  # type: ignore[no-untyped-def]
    inputs, config, result, _ = built
    lines: list[str] = []
    again = build_variants(inputs, config, log=lines.append)
    assert again.variants == result.variants
    assert all(line.endswith(": cached") for line in lines if ":" in line and "note" not in line)


def test_profiles_measure_and_compare_with_the_baseline(built) -> None:  # type: ignore[no-untyped-def]
    inputs, _, result, _ = built
    rows = HeldOutRows(
        tuple(inputs.data.texts[i] for i in inputs.split.test),
        tuple(inputs.labels[i] for i in inputs.split.test),
        "tiny",
    )
    settings = MeasureSettings(threads=1, latency_requests=20, rounds=2, throughput_rows=24)
    by_name = {v.name: v for v in result.variants}
    base = profile_variant(by_name["baseline"], rows, hardware=read_hardware(), settings=settings)
    int8 = profile_variant(
        by_name["int8-dynamic"],
        rows,
        hardware=read_hardware(),
        settings=settings,
        baseline_predictions=base.predictions,
    )
    p = int8.profile
    assert p.basis == "measured" and p.provider == "CPUExecutionProvider"
    assert 0 < p.latency_ms_p50 <= p.latency_ms_p95 <= p.latency_ms_p99
    assert p.latency_samples == 40 and set(p.throughput_by_batch) == {1, 4, 16}
    assert p.accuracy_ci_low <= p.accuracy <= p.accuracy_ci_high  # type: ignore[operator]
    assert p.peak_memory_mib > p.model_memory_mib > 0
    assert p.size_bytes == by_name["int8-dynamic"].size_bytes
    assert p.versions["onnxruntime"]
    assert int8.comparison is not None
    assert p.agreement == pytest.approx(np.mean(np.equal(int8.predictions, base.predictions)))
    verdicts = recommend([base.profile, p], baseline="baseline", budget_pt=100.0)
    assert sum(v.is_recommended for v in verdicts) == 1


def test_a_csv_without_the_named_columns_fails_before_any_work(
    teacher: tuple[Path, Path], tmp_path: Path
) -> None:
    with pytest.raises(MlcostError, match="sentence"):
        check_inputs(teacher[0], str(teacher[1]), text_column="sentence")


def test_labels_that_do_not_match_the_model_fail_before_any_work(
    teacher: tuple[Path, Path], tmp_path: Path
) -> None:
    path = tmp_path / "stars.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows([["good", "five"], ["bad", "one"], ["meh", "three"]] * 10)
    with pytest.raises(CompressError, match="predicts 2 classes"):
        check_inputs(teacher[0], str(path))
    two = tmp_path / "two.csv"
    two.write_text("text,label\n" + "good,yes\nbad,no\n" * 10)
    with pytest.raises(CompressError, match=r"do not match the labels"):
        check_inputs(teacher[0], str(two))


def test_a_base_model_that_is_not_a_classifier_is_refused(tmp_path: Path) -> None:
    from transformers import BertConfig, BertModel

    BertModel(
        BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    ).save_pretrained(tmp_path)
    with pytest.raises(CompressError, match="not a sequence classifier"):
        check_inputs(tmp_path, "builtin:sentiment")
    with pytest.raises(CompressError, match=r"no config\.json"):
        check_inputs(tmp_path / "nothing", "builtin:sentiment")


def test_unknown_methods_and_negative_budgets_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CompressError, match="unknown method 'int4'"):
        CompressConfig(out_dir=tmp_path, methods=("int4",)).validate()
    with pytest.raises(CompressError, match="budget"):
        CompressConfig(out_dir=tmp_path, accuracy_budget_pt=-1).validate()


def test_variant_json_is_the_stored_value(built) -> None:  # type: ignore[no-untyped-def]
    _, _, result, _ = built
    variant = result.variants[2]
    assert json.loads((Path(variant.path) / "variant.json").read_text())["name"] == variant.name


def test_each_int8_is_the_measured_fastest_recipe_within_budget(built) -> None:  # type: ignore[no-untyped-def]
    _, _, result, lines = built
    by_name = {v.name: v for v in result.variants}
    for name in ("int8-dynamic", "int8-static", "distilled-int8"):
        variant = by_name[name]
        search = variant.recipe["recipe_search"]
        candidates = search["candidates"]
        # Every recipe searched was measured; a tight budget adds NNCF's accuracy-aware one.
        assert {c["name"] for c in candidates} >= {r["name"] for r in variant.recipe["search"]}, (
            name
        )
        assert len(variant.recipe["search"]) >= 2, name
        within = [c for c in candidates if c["within_budget"]]
        if within:
            fastest = min(within, key=lambda c: (c["mean_ms"], c["name"]))
            assert search["winner"] == fastest["name"], name
        assert variant.recipe["int8"]["name"] == search["winner"]
        verdict = "wins" if search["within_budget"] else "kept: no recipe is shown within"
        assert any(line.startswith(f"{name}: {search['winner']} {verdict}") for line in lines)
    # The calibrated search weighs both runtimes; whichever won, the variant runs through the
    # one session protocol and agrees with its parent.
    static = by_name["int8-static"]
    names = [c["name"] for c in static.recipe["recipe_search"]["candidates"]]
    assert {name.split()[0] for name in names} == {"ort", "openvino"}
    # 24 validation rows resolve no 0.5-pt budget, so the accuracy-aware NNCF was tried too.
    assert "openvino nncf static, accuracy-aware" in names
    assert static.format == (
        "openvino" if static.recipe["int8"]["runtime"] == "openvino" else "onnx"
    )
    assert static.recipe["vs_parent"]["agreement"] >= 0.9


def test_both_runtimes_answer_alike_through_one_session(built, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from mlcost.compress._recipes import build_openvino
    from mlcost.runtime import open_session, pad

    result = built[2]
    onnx = next(v for v in result.variants if v.name == "onnx-fp32")
    out = tmp_path / "ov"
    out.mkdir()
    rows = [[5, 7, 8, 9, 6], [5, 12, 13, 6]]
    feeds = [dict(zip(("input_ids", "attention_mask"), pad([row], 0), strict=True)) for row in rows]
    build_openvino(Path(onnx.path) / "model.onnx", out, feeds)
    ort_session = open_session(onnx, threads=1)
    ov_variant = dataclasses.replace(onnx, format="openvino", precision="int8", path=str(out))
    ov_session = open_session(ov_variant, threads=1)
    assert ov_session.provider == "openvino-cpu"
    for row in rows:
        ids, mask = pad([row], 0)
        a, b = ort_session.logits(ids, mask), ov_session.logits(ids, mask)
        assert a.shape == b.shape and a.argmax() == b.argmax()


def test_an_openvino_winner_is_a_whole_variant(teacher, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import mlcost.compress._pipeline as pipeline
    from mlcost.compress._recipes import Int8Recipe
    from mlcost.runtime import open_session, pad

    only_openvino = [Int8Recipe("openvino", "static", "unfused")]
    monkeypatch.setattr(pipeline, "static_recipes", lambda cpu, with_openvino: only_openvino)
    model_dir, data = teacher
    inputs = check_inputs(model_dir, str(data))
    config = CompressConfig(
        out_dir=tmp_path / "variants", methods=("int8-static",), calibration_samples=16
    )
    result = build_variants(inputs, config)
    static = next(v for v in result.variants if v.name == "int8-static")
    baseline = next(v for v in result.variants if v.name == "baseline")
    assert static.format == "openvino" and static.precision == "int8"
    assert (Path(static.path) / "model.xml").is_file()
    assert static.parameter_count == baseline.parameter_count
    assert static.recipe["int8"]["runtime"] == "openvino"
    session = open_session(static, threads=1)
    assert session.logits(*pad([[5, 7, 8, 6]], 0)).shape == (1, 2)
    # A signal after OpenVINO has run and its model is gone reaches Python's handler (the
    # plugin leaves the thread an alternate signal stack it may free: the runtime replaces it).
    import gc
    import os
    import signal

    del session
    gc.collect()
    seen: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(100):
            if seen:
                break
            time.sleep(0.01)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert seen == [signal.SIGTERM]
