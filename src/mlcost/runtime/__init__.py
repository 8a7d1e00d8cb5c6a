"""Runtime: load a Variant and run it, the same way for profiling, evaluation and serving.

Input: a Variant's artifact (a Hugging Face model folder or an ONNX file) and token ids.
Output: logits and predictions; the machine's CPU features and the threads its cgroup allows;
the FLOPs one inference of an ONNX graph costs.
"""

from __future__ import annotations

from mlcost.runtime._flops import GraphFlops, count_flops, graph_flops
from mlcost.runtime._hardware import CpuFeatures, read_cpu_features, read_hardware, threads_allowed
from mlcost.runtime._session import (
    ONNX_FILE,
    OPENVINO_FILE,
    OnnxSession,
    Session,
    TorchSession,
    artifact_bytes,
    bucketed_feeds,
    length_batches,
    length_buckets,
    load_tokenizer,
    open_session,
    pad,
    predict_logits,
    tokenize,
)
from mlcost.runtime._structure import (
    encoder_layers,
    load_classifier,
    parameter_count,
    record_structure,
)

__all__ = [
    "ONNX_FILE",
    "OPENVINO_FILE",
    "CpuFeatures",
    "GraphFlops",
    "OnnxSession",
    "Session",
    "TorchSession",
    "artifact_bytes",
    "bucketed_feeds",
    "count_flops",
    "encoder_layers",
    "graph_flops",
    "length_batches",
    "length_buckets",
    "load_classifier",
    "load_tokenizer",
    "open_session",
    "pad",
    "parameter_count",
    "predict_logits",
    "read_cpu_features",
    "read_hardware",
    "record_structure",
    "threads_allowed",
    "tokenize",
]
