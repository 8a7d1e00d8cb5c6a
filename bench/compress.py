"""Compression targets, measured side by side in one run on this machine (`make bench`).

Run: ``.venv/bin/python bench/compress.py [--home .mlcost-demo] [--latency-requests 300]``

Same model (the demo teacher, trained if missing), same data (the held-out
test split of the built-in tweets) and same machine for every figure:

1. int8-dynamic vs the PyTorch FP32 baseline: throughput at batch 1 on the
   test set's real lengths (target >= 4x), size (target >= 4x smaller),
   accuracy within 0.5 point (paired: McNemar on the same rows).
2. mlcost's best INT8 variant vs Hugging Face Optimum's ONNX Runtime dynamic
   quantization (``AutoQuantizationConfig.avx512_vnni(is_static=False,
   per_channel=False)``; Optimum runs in its own venv, .bench-venv/optimum,
   built here on first use), both measured with the same onnxruntime:
   target >= 1.3x throughput at equal or better accuracy.
3. The distilled and pruned INT8 variants vs the teacher's INT8: target >= 2x
   throughput within 2 points of the teacher's accuracy.

Every variant is measured twice, in forward then reverse order (ABBA), and
the two passes are averaged, so drift on a shared machine hits all alike.
Benchmarks report; this one exits 0 whether or not a target is met.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from mlcost.cli.compress import DEMO_DATA, test_rows
from mlcost.cli.train import ensure_demo_teacher
from mlcost.compress import CompressConfig, build_variants, check_inputs
from mlcost.core import Profile, Variant
from mlcost.profile import HeldOutRows, MeasureSettings, compare_with_baseline, profile_variant
from mlcost.runtime import read_hardware, threads_allowed

ROOT = Path(__file__).resolve().parents[1]


def _optimum_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("optimum_venv", ROOT / "bench/optimum/venv.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def optimum_variant(teacher: Variant, work: Path) -> Variant:
    """Optimum's dynamic INT8 of the teacher, with the teacher's tokenizer beside it."""
    optimum = _optimum_module()
    python = optimum.ensure_venv(ROOT / ".bench-venv" / "optimum")
    out = work / "optimum"
    shutil.rmtree(out, ignore_errors=True)
    result = optimum.quantize_with_optimum(python, Path(teacher.path), out)
    onnx_file = Path(result["onnx"])
    for item in Path(teacher.path).iterdir():
        if item.name.startswith(("tokenizer", "special_tokens", "vocab")):
            shutil.copy2(item, out / item.name)
    print(
        f"optimum {result['optimum']} (optimum-onnx {result['optimum_onnx']}, transformers "
        f"{result['transformers']}): {onnx_file.name}, inputs {result['inputs']}"
    )
    return Variant(
        "optimum-int8",
        "onnx",
        "int8",
        "optimum avx512_vnni dynamic",
        str(onnx_file),
        onnx_file.stat().st_size,
        teacher.parameter_count,
        parent="baseline",
        recipe={"max_length": teacher.recipe["max_length"]},
    )


def measure_abba(
    variants: list[Variant], rows: HeldOutRows, settings: MeasureSettings
) -> dict[str, tuple[Profile, tuple[int, ...]]]:
    """Each variant measured forward then backward; latency and throughput averaged over both."""
    hardware = read_hardware()
    passes: dict[str, list[tuple[Profile, tuple[int, ...]]]] = {v.name: [] for v in variants}
    for order in (variants, variants[::-1]):
        for variant in order:
            started = time.perf_counter()
            measured = profile_variant(
                variant,
                rows,
                hardware=hardware,
                settings=settings,
                max_length=int(variant.recipe.get("max_length", 512)),
            )
            passes[variant.name].append((measured.profile, measured.predictions))
            print(
                f"  {variant.name:15s} p50 {measured.profile.latency_ms_p50:7.2f} ms  "
                f"batch-1 {measured.profile.throughput_by_batch[1]:7.1f}/s  "
                f"({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
    averaged = {}
    for name, (first, second) in passes.items():
        p, q = first[0], second[0]
        by_batch = {
            b: (p.throughput_by_batch[b] + q.throughput_by_batch[b]) / 2
            for b in p.throughput_by_batch
        }
        averaged[name] = (
            dataclasses.replace(
                p,
                latency_ms_p50=(p.latency_ms_p50 + q.latency_ms_p50) / 2,
                latency_ms_p99=(p.latency_ms_p99 + q.latency_ms_p99) / 2,
                throughput_by_batch=by_batch,
            ),
            first[1],
        )
    return averaged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=ROOT / ".mlcost-demo")
    parser.add_argument("--latency-requests", type=int, default=300)
    args = parser.parse_args()
    teacher_dir = args.home.resolve() / "artifacts" / "teacher"
    ensure_demo_teacher(teacher_dir, args.home)
    inputs = check_inputs(teacher_dir / "model", DEMO_DATA)
    built = build_variants(
        inputs, CompressConfig(out_dir=args.home.resolve() / "artifacts" / "variants"), log=print
    )
    by_name = {v.name: v for v in built.variants}
    work = args.home.resolve() / "bench"
    work.mkdir(parents=True, exist_ok=True)
    contenders = [
        by_name[name]
        for name in ("baseline", "int8-dynamic", "int8-static", "distilled-int8", "pruned-int8")
    ]
    contenders.append(optimum_variant(by_name["baseline"], work))
    rows = test_rows(inputs)
    settings = MeasureSettings(threads=threads_allowed(), latency_requests=args.latency_requests)
    hardware = read_hardware()
    print(
        f"\nmeasuring on {hardware.label}, flags {' '.join(hardware.cpu_flags)}; "
        f"{len(rows.texts)} test rows, {settings.threads} threads, ABBA passes"
    )
    results = measure_abba(contenders, rows, settings)
    report(results, rows)


def _correct(predictions: tuple[int, ...], rows: HeldOutRows) -> list[bool]:
    return [p == y for p, y in zip(predictions, rows.labels, strict=True)]


def report(results: dict[str, tuple[Profile, tuple[int, ...]]], rows: HeldOutRows) -> None:
    base, _ = results["baseline"]
    print("\nvariant          batch-1/s   p50 ms   p99 ms   size MB   test accuracy [95% CI]")
    for name, (p, _) in results.items():
        print(
            f"{name:15s} {p.throughput_by_batch[1]:10.1f} {p.latency_ms_p50:8.2f} {p.latency_ms_p99:8.2f} "
            f"{p.size_bytes / 1e6:9.1f}   {p.accuracy:.2%} [{p.accuracy_ci_low:.2%}, {p.accuracy_ci_high:.2%}]"
        )

    def versus(name: str, other: str) -> tuple[float, float, float]:
        a, a_pred = results[name]
        b, b_pred = results[other]
        agreement = float(np.mean(np.equal(a_pred, b_pred)))
        paired = compare_with_baseline(_correct(b_pred, rows), _correct(a_pred, rows), agreement)
        ratio = a.throughput_by_batch[1] / b.throughput_by_batch[1]
        return ratio, -paired.drop_pt, paired.mcnemar_p

    print("\ntargets (ratios from the same run):")
    ratio, delta, p = versus("int8-dynamic", "baseline")
    size = base.size_bytes / results["int8-dynamic"][0].size_bytes
    print(
        f"  int8-dynamic vs baseline: {ratio:.2f}x batch-1 throughput (target >= 4x: {_ok(ratio >= 4)}), "
        f"{size:.2f}x smaller (target >= 4x: {_ok(size >= 4)}), accuracy {delta:+.2f} pt, McNemar p={p:.2g} "
        f"(target within 0.5 pt: {_ok(delta >= -0.5)})"
    )
    optimum, _ = results["optimum-int8"]
    for pool, label in (
        (("int8-dynamic", "int8-static"), "teacher INT8"),
        (("int8-dynamic", "int8-static", "distilled-int8", "pruned-int8"), "any mlcost INT8"),
    ):
        eligible = [n for n in pool if (results[n][0].accuracy or 0) >= (optimum.accuracy or 0)]
        best = max(eligible or pool, key=lambda n: results[n][0].throughput_by_batch[1])
        ratio, delta, p = versus(best, "optimum-int8")
        print(
            f"  best {label} ({best}) vs Optimum avx512_vnni dynamic: {ratio:.2f}x batch-1 "
            f"throughput (target >= 1.3x: {_ok(ratio >= 1.3)}), accuracy {delta:+.2f} pt vs Optimum, "
            f"McNemar p={p:.2g} (target equal or better: {_ok(delta >= 0)})"
        )
    for small in ("distilled-int8", "pruned-int8"):
        ratio, delta, p = versus(small, "int8-dynamic")
        print(
            f"  {small} vs teacher int8-dynamic: {ratio:.2f}x batch-1 throughput (target >= 2x: "
            f"{_ok(ratio >= 2)}), accuracy {delta:+.2f} pt, McNemar p={p:.2g} (target within 2 pt: {_ok(delta >= -2)})"
        )


def _ok(flag: bool) -> str:
    return "met" if flag else "MISSED"


if __name__ == "__main__":
    main()
    sys.exit(0)
