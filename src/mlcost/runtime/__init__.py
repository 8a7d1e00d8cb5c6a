"""Runtime: load a Variant and run it, the same way for profiling, evaluation and serving.

Input: a Variant's artifact (a Hugging Face model folder or an ONNX file) and token ids.
Output: logits and predictions; the machine's CPU features and the threads its cgroup allows.
"""

from __future__ import annotations

from mlcost.runtime._hardware import CpuFeatures, read_cpu_features
from mlcost.runtime._structure import load_classifier

__all__ = ["CpuFeatures", "load_classifier", "read_cpu_features"]
