"""Export a Hugging Face sequence classifier to ONNX and quantize it with Hugging Face Optimum.

Run with the Optimum venv's python (see venv.py), never mlcost's main venv:

    python bench/optimum/quantize.py MODEL_DIR OUT_DIR [--per-channel]

MODEL_DIR is a local save_pretrained folder (config + weights; no network is used).
OUT_DIR receives Optimum's fp32 export (model.onnx, config.json) and the dynamically
quantized model (model_quantized.onnx, ort_config.json). Everything Optimum, transformers
and ONNX Runtime print goes to stderr; stdout carries exactly one JSON line:

    {"onnx": ".../model_quantized.onnx", "inputs": [...], "outputs": [...],
     "fp32_onnx": ".../model.onnx", "per_channel": false,
     "optimum": "2.1.0", "optimum_onnx": "0.1.0", "transformers": "...", "onnxruntime": "..."}
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for peer_script
from peer_script import stdout_to_stderr


def _graph_io(path: Path) -> tuple[list[str], list[str]]:
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    initializers = {tensor.name for tensor in graph.initializer}
    inputs = [value.name for value in graph.input if value.name not in initializers]
    return inputs, [value.name for value in graph.output]


def quantize(model_dir: Path, out_dir: Path, per_channel: bool = False) -> dict:
    from optimum.onnxruntime import ORTModelForSequenceClassification, ORTQuantizer
    from optimum.onnxruntime.configuration import AutoQuantizationConfig

    out_dir.mkdir(parents=True, exist_ok=True)
    model = ORTModelForSequenceClassification.from_pretrained(
        model_dir, export=True, local_files_only=True
    )
    model.save_pretrained(out_dir)  # model.onnx + config.json
    fp32_path = out_dir / "model.onnx"

    quantizer = ORTQuantizer.from_pretrained(out_dir, file_name=fp32_path.name)
    # avx512_vnni(is_static=False, per_channel=False) is the recipe Optimum's own docs and
    # README use for dynamic quantization ("Apply dynamic quantization" in the ONNX Runtime
    # quantization guide): weights quantized ahead of time to signed 8-bit, symmetric, one
    # scale per tensor (per_channel=False is also ONNX Runtime's quantize_dynamic default);
    # activations quantized at run time; reduce_range=False. The method's own default is
    # per_channel=True, so the documented recipe sets it explicitly; --per-channel gives
    # the per-channel variant (closer to mlcost's INT8 settings, which are per-channel).
    qconfig = AutoQuantizationConfig.avx512_vnni(is_static=False, per_channel=per_channel)
    quantizer.quantize(save_dir=out_dir, quantization_config=qconfig)  # suffix "quantized"
    quantized_path = out_dir / f"{fp32_path.stem}_quantized.onnx"
    if not quantized_path.is_file():
        raise FileNotFoundError(f"Optimum did not write {quantized_path}")

    inputs, outputs = _graph_io(quantized_path)
    return {
        "onnx": str(quantized_path.resolve()),
        "inputs": inputs,
        "outputs": outputs,
        "fp32_onnx": str(fp32_path.resolve()),
        "per_channel": per_channel,
        "optimum": metadata.version("optimum"),
        "optimum_onnx": metadata.version("optimum-onnx"),
        "transformers": metadata.version("transformers"),
        "onnxruntime": metadata.version("onnxruntime"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path, help="local Hugging Face model folder")
    parser.add_argument("out_dir", type=Path, help="where the ONNX files are written")
    parser.add_argument(
        "--per-channel",
        action="store_true",
        help="per-channel weight scales instead of Optimum's documented per-tensor recipe",
    )
    args = parser.parse_args(argv)
    if not (args.model_dir / "config.json").is_file():
        parser.error(f"{args.model_dir} is not a Hugging Face model folder (no config.json)")

    with stdout_to_stderr():
        result = quantize(args.model_dir, args.out_dir, per_channel=args.per_channel)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
