"""Export, fuse and quantize a tiny BERT; every variant is checked against its parent."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
from tiny_model import build_tiny_bert

from mlcost.compress import (
    EXPORT_TOLERANCE,
    export_onnx,
    int8_settings,
    optimize_transformer,
    run_onnx,
)
from mlcost.compress._recipes import build_dynamic, dynamic_recipes
from mlcost.core import CompressError
from mlcost.runtime import read_cpu_features

VNNI_CPU = (
    "model name\t: Intel(R) Xeon(R) Platinum 8375C\nflags\t\t: fpu avx2 avx512f avx512_vnni\n"
)
AVX2_CPU = "model name\t: AMD EPYC 7R32\nflags\t\t: fpu sse4_2 avx2 fma\n"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("tiny") / "model")


def feeds(batch: int = 3, length: int = 9) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    ids = rng.integers(5, 30, size=(batch, length)).astype(np.int64)
    mask = np.ones_like(ids)
    mask[0, 5:] = 0  # a padded row
    return {"input_ids": ids, "attention_mask": mask}


def test_export_matches_pytorch_and_has_dynamic_axes(tiny: Path, tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    diff = export_onnx(tiny, path)
    assert diff <= EXPORT_TOLERANCE
    for batch, length in ((1, 4), (5, 17)):
        assert run_onnx(path, feeds(batch, length)).shape == (batch, 2)


def test_fusions_keep_the_outputs(tiny: Path, tmp_path: Path) -> None:
    exported, fused = tmp_path / "model.onnx", tmp_path / "fused.onnx"
    export_onnx(tiny, exported)
    optimize_transformer(exported, fused, num_heads=2, hidden_size=32)
    np.testing.assert_allclose(run_onnx(fused, feeds()), run_onnx(exported, feeds()), atol=1e-4)


def test_every_dynamic_recipe_is_smaller_and_close_to_its_parent(
    tiny: Path, tmp_path: Path
) -> None:
    exported, fused = tmp_path / "model.onnx", tmp_path / "fused.onnx"
    export_onnx(tiny, exported)
    optimize_transformer(exported, fused, num_heads=2, hidden_size=32)
    import onnx

    parent = run_onnx(fused, feeds())
    recipes = dynamic_recipes(read_cpu_features(VNNI_CPU))
    for index, recipe in enumerate(recipes):
        int8 = tmp_path / f"int8-{index}.onnx"
        build_dynamic(recipe, fused=fused, plain=exported, out=int8)
        ops = {node.op_type for node in onnx.load(str(int8)).graph.node}
        assert "DynamicQuantizeLinear" in ops or "QAttention" in ops, recipe.name
        assert ("QAttention" in ops) == (recipe.graph == "fused"), recipe.name
        source = exported if recipe.graph == "unfused" else fused
        assert int8.stat().st_size < source.stat().st_size, recipe.name
        if recipe.graph == "unfused":  # per layer 4 projections + 2 FFN (+ 2 attention); 2 heads
            matmuls = [n for n in onnx.load(str(int8)).graph.node if n.op_type == "MatMulInteger"]
            assert len(matmuls) == 2 * (6 + 2 * recipe.activation_matmuls) + 2, recipe.name
        child = run_onnx(int8, feeds())
        assert np.abs(child - parent).max() < 0.1 * max(1.0, float(np.abs(parent).max()))


def test_the_recipe_space_is_pruned_by_instruction_set() -> None:
    avx2 = dynamic_recipes(read_cpu_features(AVX2_CPU))
    vnni = dynamic_recipes(read_cpu_features(VNNI_CPU))
    # 7-bit weights only where AVX2's 16-bit sums could saturate; the same graphs either way.
    assert all(r.reduce_range for r in avx2) and not any(r.reduce_range for r in vnni)
    # INT8 attention matmuls only where integer dot products are fast.
    assert not any(r.activation_matmuls for r in avx2)
    assert {(r.graph, r.per_channel, r.activation_matmuls) for r in vnni} == {
        ("fused", True, False),
        ("fused", False, False),
        ("unfused", True, False),
        ("unfused", False, False),
        ("unfused", True, True),
        ("unfused", False, True),
    }
    assert {(r.graph, r.per_channel) for r in avx2} == {
        (r.graph, r.per_channel) for r in vnni if not r.activation_matmuls
    }
    assert len({r.name for r in vnni}) == len(vnni)


def test_a_folder_that_is_not_a_model_cannot_be_exported(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"model_type": "bert", "vocab_size": 0}')
    with pytest.raises(CompressError):
        export_onnx(tmp_path, tmp_path / "x.onnx")


def test_int8_settings_follow_the_cpu() -> None:
    vnni = int8_settings(read_cpu_features(VNNI_CPU))
    assert vnni.per_channel and not vnni.reduce_range and vnni.warning is None
    avx2 = int8_settings(read_cpu_features(AVX2_CPU))
    assert avx2.reduce_range and avx2.warning is not None and "no VNNI" in avx2.warning
    assert read_cpu_features(AVX2_CPU).model == "AMD EPYC 7R32"
