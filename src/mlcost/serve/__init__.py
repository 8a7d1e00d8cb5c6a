"""Serve: mlcost variants over HTTP, batched, behind a cascade, shut down without loss.

Input: a ServeConfig (serve.yaml), the workspace's Variants and their Profiles, a machine price.
Output: an ASGI server (FastAPI on uvicorn) answering /v1/predict with Prometheus metrics,
including what each prediction costs; its exit code after a graceful drain.
"""

from __future__ import annotations

from mlcost.serve._batcher import BatchDone, Batcher, DeadlineExceeded, QueueFull, Stopped
from mlcost.serve._calibrate import (
    Calibration,
    Choice,
    Predictions,
    Targets,
    calibrate,
    fit_temperature,
    read_threshold,
    threshold_record,
    usd_per_prediction,
)
from mlcost.serve._cascade import Answer, Cascade, Threshold, confidence
from mlcost.serve._config import (
    DEFAULT_THRESHOLD,
    NOTICE_WINDOW_S,
    Batching,
    Limits,
    Machine,
    Remote,
    ServeConfig,
    Shutdown,
    Spot,
    Tier,
    load_serve_config,
    notice_window_s,
    single_variant_config,
)
from mlcost.serve._server import MachinePrice, serve
from mlcost.serve._tier import (
    CircuitBreaker,
    LocalTier,
    RemoteTier,
    TierUnavailable,
    variant_probabilities,
)

__all__ = [
    "DEFAULT_THRESHOLD",
    "NOTICE_WINDOW_S",
    "Answer",
    "BatchDone",
    "Batcher",
    "Batching",
    "Calibration",
    "Cascade",
    "Choice",
    "CircuitBreaker",
    "DeadlineExceeded",
    "Limits",
    "LocalTier",
    "Machine",
    "MachinePrice",
    "Predictions",
    "QueueFull",
    "Remote",
    "RemoteTier",
    "ServeConfig",
    "Shutdown",
    "Spot",
    "Stopped",
    "Targets",
    "Threshold",
    "Tier",
    "TierUnavailable",
    "calibrate",
    "confidence",
    "fit_temperature",
    "load_serve_config",
    "notice_window_s",
    "read_threshold",
    "serve",
    "single_variant_config",
    "threshold_record",
    "usd_per_prediction",
    "variant_probabilities",
]
