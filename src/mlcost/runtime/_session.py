"""Run a Variant: one interface over PyTorch eager, ONNX Runtime and OpenVINO, token ids in,
logits out.

A variant's artifact is a folder: a Hugging Face model folder for ``torch``,
``model.onnx`` beside the tokenizer and config for ``onnx``, an OpenVINO IR
(``model.xml`` + ``model.bin``) beside them for ``openvino``. Requests are
padded per batch to their own longest sequence (dynamic padding), never to a
fixed maximum. The runtime settings the compress stage measured fastest for a
variant (``variant.recipe["session"]``: ONNX Runtime's graph optimisation
level, thread spinning and memory arena) are applied when it is opened.
"""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from mlcost.core import Variant, require
from mlcost.runtime._structure import load_classifier

ONNX_FILE = "model.onnx"
OPENVINO_FILE = "model.xml"
TokenIds = Sequence[Sequence[int]]


class Session(Protocol):
    """A loaded variant, ready to turn padded token ids into logits."""

    provider: str

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray: ...


@dataclass
class TorchSession:
    """PyTorch eager on the CPU (or CUDA when ``device`` says so)."""

    model: Any
    device: str = "cpu"
    provider: str = "torch"

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        torch = require("torch", extra="train", purpose="running a PyTorch variant")
        with torch.inference_mode():
            out = self.model(
                input_ids=torch.from_numpy(input_ids).to(self.device),
                attention_mask=torch.from_numpy(attention_mask).to(self.device),
            ).logits
        result: np.ndarray = out.float().cpu().numpy()
        return result


@dataclass
class OnnxSession:
    """An ONNX Runtime session; feeds only the inputs the graph declares."""

    session: Any
    provider: str

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        feeds = {"input_ids": input_ids, "attention_mask": attention_mask}
        names = [i.name for i in self.session.get_inputs()]
        if "token_type_ids" in names:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        result: np.ndarray = self.session.run(None, {n: feeds[n] for n in names})[0]
        return result.astype(np.float32, copy=False)


@dataclass
class OpenVinoSession:
    """An OpenVINO compiled model on the CPU; feeds only the inputs the model declares."""

    compiled: Any
    provider: str = "openvino-cpu"

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        feeds = {"input_ids": input_ids, "attention_mask": attention_mask}
        names = [port.any_name for port in self.compiled.inputs]
        if "token_type_ids" in names:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        result = self.compiled({n: feeds[n] for n in names})[self.compiled.output(0)]
        return np.asarray(result, dtype=np.float32)


def open_session(variant: Variant, *, threads: int, device: str = "cpu") -> Session:
    """Load ``variant`` for inference with ``threads`` intra-op threads.

    Raises OSError/ValueError when the artifact is missing or unreadable
    (callers word the error for their stage).
    """
    path = Path(variant.path)
    if variant.format == "openvino":
        return _openvino_session(path, threads, device)
    if variant.format == "torch":
        torch = require("torch", extra="train", purpose="running a PyTorch variant")
        torch.set_num_threads(threads)
        transformers = require("transformers", extra="train", purpose="running a PyTorch variant")
        transformers.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
        model = load_classifier(path).eval().to(device)
        if variant.precision == "fp16":
            model = model.half()
        return TorchSession(model, device, "torch-cuda" if device.startswith("cuda") else "torch")
    ort = require("onnxruntime", extra="compress", purpose="running an ONNX variant")
    options = onnx_session_options(threads, variant.recipe.get("session") or {})
    providers = (
        ["CUDAExecutionProvider", "CPUExecutionProvider"]
        if device.startswith("cuda")
        else ["CPUExecutionProvider"]
    )
    file = path / ONNX_FILE if path.is_dir() else path
    if not file.is_file():
        raise FileNotFoundError(f"{file} does not exist")
    session = ort.InferenceSession(str(file), options, providers=providers)
    return OnnxSession(session, session.get_providers()[0])


# ONNX Runtime's graph optimisation levels by the names a recipe records.
_GRAPH_LEVELS = {
    "basic": "ORT_ENABLE_BASIC",
    "extended": "ORT_ENABLE_EXTENDED",
    "all": "ORT_ENABLE_ALL",
}


def onnx_session_options(threads: int, settings: Mapping[str, Any]) -> Any:
    """ONNX Runtime session options: ``threads`` intra-op threads, one inter-op, quiet logs,
    and the recipe's ``settings``: ``graph_optimization`` (basic, extended, all: the
    default), ``spinning`` (intra-op threads spin between runs; default on) and ``arena``
    (the CPU memory arena; default on)."""
    ort = require("onnxruntime", extra="compress", purpose="running an ONNX variant")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    level = _GRAPH_LEVELS.get(str(settings.get("graph_optimization", "all")), "ORT_ENABLE_ALL")
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
    if not settings.get("spinning", True):
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.enable_cpu_mem_arena = bool(settings.get("arena", True))
    return options


def _openvino_session(path: Path, threads: int, device: str) -> OpenVinoSession:
    if device != "cpu":
        raise ValueError("OpenVINO variants run on the CPU here; profile them with --device cpu")
    ov = require("openvino", extra="compress", purpose="running an OpenVINO variant")
    file = path / OPENVINO_FILE if path.is_dir() else path
    if not file.is_file():
        raise FileNotFoundError(f"{file} does not exist")
    config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads}
    compiled = ov.Core().compile_model(str(file), "CPU", config)
    _roomy_signal_stack()
    return OpenVinoSession(compiled)


# OpenVINO's CPU plugin (2026.4) gives the thread that compiles a model an alternate signal
# stack of ~20 KB and may free it with the model while the thread still points at it: the next
# signal (SIGTERM from Kubernetes, a spot notice) then kills the process with SIGSEGV instead
# of reaching Python's handler (seen on a Xeon with AMX, whose tile state also makes signal
# frames large). A roomy stack of our own, allocated once and kept for the life of the process,
# replaces it right after each compile.
_SIGNAL_STACK_BYTES = 1 << 20
_signal_stack: Any = None


def _roomy_signal_stack() -> None:
    """Give this thread an alternate signal stack of ``_SIGNAL_STACK_BYTES`` where it has a
    smaller one (Linux; elsewhere, or when the call fails, nothing changes)."""
    global _signal_stack
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return

    class StackT(ctypes.Structure):
        _fields_ = [
            ("ss_sp", ctypes.c_void_p),
            ("ss_flags", ctypes.c_int),
            ("ss_size", ctypes.c_size_t),
        ]

    current = StackT()
    if libc.sigaltstack(None, ctypes.byref(current)) != 0 or current.ss_flags & 2:  # SS_DISABLE
        return
    if current.ss_size >= _SIGNAL_STACK_BYTES:
        return
    if _signal_stack is None:
        _signal_stack = ctypes.create_string_buffer(_SIGNAL_STACK_BYTES)
    roomy = StackT(ctypes.addressof(_signal_stack), 0, _SIGNAL_STACK_BYTES)
    libc.sigaltstack(ctypes.byref(roomy), None)


def artifact_bytes(path: Path) -> int:
    """Size on disk of a variant's artifact (a file, or every file in its folder)."""
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def load_tokenizer(variant: Variant) -> Any:
    """The tokenizer saved with the variant (its folder, or the folder of its ONNX file)."""
    transformers = require("transformers", extra="train", purpose="tokenizing requests")
    path = Path(variant.path)
    folder = path if path.is_dir() else path.parent
    with contextlib.redirect_stderr(None):
        return transformers.AutoTokenizer.from_pretrained(folder)


def tokenize(tokenizer: Any, texts: Sequence[str], *, max_length: int = 512) -> list[list[int]]:
    """Token ids of each text, truncated to ``max_length``, unpadded."""
    encoded = tokenizer(list(texts), truncation=True, max_length=max_length, padding=False)
    return [list(ids) for ids in encoded["input_ids"]]


def pad(token_ids: TokenIds, pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """(input_ids, attention_mask) padded to the longest sequence in this batch."""
    longest = max(len(ids) for ids in token_ids)
    input_ids = np.full((len(token_ids), longest), pad_id, dtype=np.int64)
    mask = np.zeros((len(token_ids), longest), dtype=np.int64)
    for row, ids in enumerate(token_ids):
        input_ids[row, : len(ids)] = ids
        mask[row, : len(ids)] = 1
    return input_ids, mask


# A bucket never splits below this many tokens: short texts share one.
_MIN_BUCKET_TOKENS = 16


def length_buckets(lengths: Sequence[int]) -> list[list[int]]:
    """Row indices grouped by length: sorted, and a new bucket where a row is more than twice
    the bucket's shortest (and past ``_MIN_BUCKET_TOKENS``)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    buckets: list[list[int]] = []
    for i in order:
        if buckets and lengths[i] <= max(2 * lengths[buckets[-1][0]], _MIN_BUCKET_TOKENS):
            buckets[-1].append(i)
        else:
            buckets.append([i])
    return buckets


def bucketed_feeds(
    token_ids: TokenIds, pad_id: int
) -> list[tuple[list[int], tuple[np.ndarray, np.ndarray]]]:
    """One batch as ``mlcost serve`` runs it: its rows cut into ``length_buckets``, each bucket's
    row indices with its padded feeds (one session call per bucket)."""
    return [
        (rows, pad([token_ids[i] for i in rows], pad_id))
        for rows in length_buckets([len(row) for row in token_ids])
    ]


def length_batches(token_ids: TokenIds, batch_size: int) -> list[list[int]]:
    """Row indices grouped into batches of similar length (sorted by length), so padding is small."""
    order = sorted(range(len(token_ids)), key=lambda i: len(token_ids[i]))
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def predict_logits(
    session: Session, token_ids: TokenIds, pad_id: int, *, batch_size: int = 64
) -> np.ndarray:
    """Logits for every row (in the given order), computed in length-bucketed batches."""
    out: np.ndarray | None = None
    for rows in length_batches(token_ids, batch_size):
        logits = session.logits(*pad([token_ids[i] for i in rows], pad_id))
        if out is None:
            out = np.zeros((len(token_ids), logits.shape[1]), dtype=np.float32)
        out[rows] = logits
    return out if out is not None else np.zeros((0, 0), dtype=np.float32)
