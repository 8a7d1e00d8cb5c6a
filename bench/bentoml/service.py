"""The demo's ONNX classifier behind BentoML's adaptive batching (bench/serve_bentoml.py).

Runs in .bench-venv/bentoml (requirements.txt beside this file), never in mlcost's venv:

    cd bench/bentoml && BENTO_MODEL_DIR=../../.mlcost-demo/artifacts/variants/int8-dynamic \
        ../../.bench-venv/bentoml/bin/bentoml serve service:Classifier --host 127.0.0.1 --port 3000

    curl -s -XPOST 127.0.0.1:3000/v1/predict -H 'content-type: application/json' \
        -d '{"texts": ["what a lovely day"]}'

One worker process. ``POST /v1/predict`` takes ``{"texts": [...]}``; the API is batchable,
so BentoML's dispatcher concatenates the lists of concurrent requests into one batch (at
most ``BENTO_MAX_BATCH_SIZE`` texts, waiting at most what its latency model allows under
``BENTO_MAX_LATENCY_MS``), runs it once and splits the answers back: per text, the label and
the softmax probabilities by label, as mlcost serve answers. The model runs the way mlcost
runs it: ONNX Runtime with ``BENTO_THREADS`` intra-op threads, one inter-op thread, and the
session settings compress recorded for the variant (``BENTO_ORT_SESSION``, JSON:
graph_optimization, spinning, arena); texts are tokenized in one ``encode_batch`` call of
the tokenizers library, truncated to ``BENTO_MAX_LENGTH`` tokens and padded to the
batch's longest.

Environment: BENTO_MODEL_DIR (required: a folder with model.onnx, tokenizer.json and
config.json), BENTO_THREADS (default: the CPUs this process may use), BENTO_ORT_SESSION
(default {}), BENTO_MAX_LENGTH (default 128), BENTO_MAX_BATCH_SIZE (default 16),
BENTO_MAX_LATENCY_MS (default 1000).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import bentoml
import numpy as np

MAX_BATCH_SIZE = int(os.environ.get("BENTO_MAX_BATCH_SIZE", "16"))
MAX_LATENCY_MS = int(os.environ.get("BENTO_MAX_LATENCY_MS", "1000"))

# ONNX Runtime's graph optimisation levels by the names an mlcost recipe records.
_GRAPH_LEVELS = {
    "disabled": "ORT_DISABLE_ALL",
    "basic": "ORT_ENABLE_BASIC",
    "extended": "ORT_ENABLE_EXTENDED",
    "all": "ORT_ENABLE_ALL",
}


def _threads() -> int:
    if "BENTO_THREADS" in os.environ:
        return int(os.environ["BENTO_THREADS"])
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _session(model: Path, threads: int, settings: dict[str, Any]) -> Any:
    """An ONNX Runtime CPU session with the options mlcost.runtime.onnx_session_options sets."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    level = _GRAPH_LEVELS.get(str(settings.get("graph_optimization", "all")), "ORT_ENABLE_ALL")
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
    if not settings.get("spinning", True):
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.enable_cpu_mem_arena = bool(settings.get("arena", True))
    return ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])


# One worker; no per-request access log (mlcost serve runs uvicorn with access_log=False).
@bentoml.service(
    name="mlcost-bench-classifier",
    workers=1,
    traffic={"timeout": 60},
    logging={"access": {"enabled": False}},
)
class Classifier:
    def __init__(self) -> None:
        from tokenizers import Tokenizer

        folder = Path(os.environ["BENTO_MODEL_DIR"])
        settings = json.loads(os.environ.get("BENTO_ORT_SESSION") or "{}")
        self.session = _session(folder / "model.onnx", _threads(), settings)
        self.inputs = [i.name for i in self.session.get_inputs()]
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        id2label = config.get("id2label") or {}
        pad_id = int(config.get("pad_token_id") or 0)
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(int(os.environ.get("BENTO_MAX_LENGTH", "128")))
        pad_token = self.tokenizer.id_to_token(pad_id) or "[PAD]"
        self.tokenizer.enable_padding(pad_id=pad_id, pad_token=pad_token)  # to the longest
        count = int(self.session.get_outputs()[0].shape[-1])
        self.labels = [str(id2label.get(str(i), i)) for i in range(count)]
        self._probabilities(["warm up"])

    def _probabilities(self, texts: list[str]) -> np.ndarray:
        encoded = self.tokenizer.encode_batch(texts)
        input_ids = np.array([e.ids for e in encoded], dtype=np.int64)
        feeds = {
            "input_ids": input_ids,
            "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
            "token_type_ids": np.zeros_like(input_ids),
        }
        logits = self.session.run(None, {name: feeds[name] for name in self.inputs})[0]
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        result: np.ndarray = shifted / shifted.sum(axis=1, keepdims=True)
        return result

    @bentoml.api(
        route="/v1/predict",
        batchable=True,
        max_batch_size=MAX_BATCH_SIZE,
        max_latency_ms=MAX_LATENCY_MS,
    )
    def predict(self, texts: list[str]) -> list[dict[str, Any]]:
        """Per text: {"label": ..., "probabilities": {label: p, ...}}."""
        if not texts:
            return []
        answers = []
        for row in self._probabilities(list(texts)).tolist():
            best = max(range(len(row)), key=row.__getitem__)
            answers.append(
                {
                    "label": self.labels[best],
                    "probabilities": dict(zip(self.labels, row, strict=True)),
                }
            )
        return answers
