"""Export a Hugging Face sequence classifier to OpenVINO and quantize it with Optimum Intel.

Run with the Optimum Intel venv's python (bench/optimum/venv.py builds it from
requirements.txt beside this file), never mlcost's main venv:

    python bench/optimum_intel/quantize.py MODEL_DIR OUT_DIR --calibration TEXTS.json \
        [--max-length 64]

MODEL_DIR is a local save_pretrained folder (config, weights, tokenizer; no network is
used). TEXTS.json is a JSON list of strings, the calibration rows (Optimum Intel's
documented sample count is 300); each is tokenized alone with the model's tokenizer,
truncated to --max-length and unpadded, so calibration sees the real lengths at batch 1.
OUT_DIR receives the INT8 OpenVINO IR (openvino_model.xml + .bin, config.json). Everything
the libraries print goes to stderr; stdout carries exactly one JSON line:

    {"xml": ".../openvino_model.xml", "bin": ".../openvino_model.bin", "inputs": [...],
     "calibration_rows": 300, "quantization": {...}, "optimum_intel": "2.2.0",
     "optimum": "2.3.0", "openvino": "...", "nncf": "...", "transformers": "..."}
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for peer_script
from peer_script import stdout_to_stderr


def _calibration_items(tokenizer, texts: list[str], inputs: list[str], max_length: int) -> list:
    """One feed per text at batch 1, unpadded, keyed by the exported model's input names."""
    import numpy as np

    items = []
    for text in texts:
        encoded = tokenizer(text, truncation=True, max_length=max_length, return_tensors="np")
        ids = encoded["input_ids"].astype(np.int64)
        feed = {
            "input_ids": ids,
            "attention_mask": encoded["attention_mask"].astype(np.int64),
            "token_type_ids": np.asarray(
                encoded.get("token_type_ids", np.zeros_like(ids)), dtype=np.int64
            ),
        }
        items.append({name: feed[name] for name in inputs})
    return items


def quantize(model_dir: Path, out_dir: Path, texts: list[str], max_length: int) -> dict:
    import nncf
    from optimum.intel import (
        OVConfig,
        OVModelForSequenceClassification,
        OVQuantizationConfig,
        OVQuantizer,
    )
    from transformers import AutoTokenizer

    out_dir.mkdir(parents=True, exist_ok=True)
    # A str, not a Path: optimum-intel 2.2.0 calls model_id.replace("/", "--") on it.
    model = OVModelForSequenceClassification.from_pretrained(
        str(model_dir), export=True, compile=False, local_files_only=True
    )
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    inputs = [port.get_any_name() for port in model.model.inputs]
    calibration = nncf.Dataset(_calibration_items(tokenizer, texts, inputs, max_length))

    # Optimum Intel's documented post-training static INT8 for a sequence classifier
    # (OVQuantizer.quantize's docstring example): OVQuantizationConfig() with its defaults
    # (8 bits, asymmetric activations, model_type="transformer", fast bias correction,
    # overflow_fix="disable"), calibrated on every row given.
    config = OVQuantizationConfig(num_samples=len(texts))
    OVQuantizer.from_pretrained(model).quantize(
        calibration_dataset=calibration,
        save_directory=out_dir,
        ov_config=OVConfig(quantization_config=config),
    )
    xml, weights = out_dir / "openvino_model.xml", out_dir / "openvino_model.bin"
    for path in (xml, weights):
        if not path.is_file():
            raise FileNotFoundError(f"Optimum Intel did not write {path}")

    return {
        "xml": str(xml.resolve()),
        "bin": str(weights.resolve()),
        "inputs": inputs,
        "calibration_rows": len(texts),
        "max_length": max_length,
        "quantization": {
            "bits": config.bits,
            "sym": config.sym,
            "model_type": config.model_type,
            "fast_bias_correction": config.fast_bias_correction,
            "overflow_fix": config.overflow_fix,
            "num_samples": config.num_samples,
        },
        "optimum_intel": metadata.version("optimum-intel"),
        "optimum": metadata.version("optimum"),
        "openvino": metadata.version("openvino"),
        "nncf": metadata.version("nncf"),
        "transformers": metadata.version("transformers"),
        "torch": metadata.version("torch"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path, help="local Hugging Face model folder")
    parser.add_argument("out_dir", type=Path, help="where the OpenVINO IR is written")
    parser.add_argument(
        "--calibration", type=Path, required=True, help="JSON list of calibration texts"
    )
    parser.add_argument("--max-length", type=int, default=512, help="truncate tokens to this")
    args = parser.parse_args(argv)
    if not (args.model_dir / "config.json").is_file():
        parser.error(f"{args.model_dir} is not a Hugging Face model folder (no config.json)")
    texts = json.loads(args.calibration.read_text())
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        parser.error(f"{args.calibration} must hold a non-empty JSON list of strings")

    with stdout_to_stderr():
        result = quantize(args.model_dir, args.out_dir, texts, args.max_length)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
