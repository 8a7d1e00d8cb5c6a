"""Train: spot-safe training that never loses more than a checkpoint interval.

Input: a PyTorch model and optimizer (or a Hugging Face model folder and labelled data), checkpoint URL.
Output: checkpoints that resume bit-identically, a fine-tuned model, its held-out accuracy, the run's cost and CO2.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlcost.train._accounting import (
        CarbonMeter,
        Footprint,
        MachinePrice,
        country_for_region,
        machine_price,
    )
    from mlcost.train._data import (
        BUILTIN_DATA,
        BUILTIN_MODEL,
        LabelledData,
        Split,
        builtin_model_dir,
        builtin_sentiment,
        load_data,
        read_labelled,
        split_indices,
    )
    from mlcost.train._distill import Distillation, distillation_from, teacher_logits
    from mlcost.train._distributed import launched_rank
    from mlcost.train._engine import Preempted, ResilientTrainer, Step
    from mlcost.train._finetune import (
        CrossEntropy,
        FineTuning,
        Loss,
        LossFactory,
        TrainConfig,
        TrainResult,
        collate,
        fit_max_length,
        predict,
        prepare,
        resolve_model_dir,
        run_training,
    )
    from mlcost.train._interval import CheckpointPolicy, CheckpointSchedule
    from mlcost.train._launch import run_torchrun
    from mlcost.train._order import epoch_batches, epoch_order
    from mlcost.train._preemption import (
        CLOUDS,
        EXIT_PREEMPTED,
        PREEMPTED_MARKER_ENV,
        Cloud,
        PreemptionNotice,
        PreemptionWatcher,
    )
    from mlcost.train._state import Progress
    from mlcost.train._storage import CheckpointInfo, CheckpointStorage, ShardDigest

_HOME = {
    "Distillation": "mlcost.train._distill",
    "distillation_from": "mlcost.train._distill",
    "teacher_logits": "mlcost.train._distill",
    "LossFactory": "mlcost.train._finetune",
    "BUILTIN_DATA": "mlcost.train._data",
    "BUILTIN_MODEL": "mlcost.train._data",
    "CarbonMeter": "mlcost.train._accounting",
    "CheckpointInfo": "mlcost.train._storage",
    "CheckpointPolicy": "mlcost.train._interval",
    "CheckpointSchedule": "mlcost.train._interval",
    "CheckpointStorage": "mlcost.train._storage",
    "CrossEntropy": "mlcost.train._finetune",
    "CLOUDS": "mlcost.train._preemption",
    "Cloud": "mlcost.train._preemption",
    "EXIT_PREEMPTED": "mlcost.train._preemption",
    "PREEMPTED_MARKER_ENV": "mlcost.train._preemption",
    "FineTuning": "mlcost.train._finetune",
    "Footprint": "mlcost.train._accounting",
    "LabelledData": "mlcost.train._data",
    "Loss": "mlcost.train._finetune",
    "MachinePrice": "mlcost.train._accounting",
    "Preempted": "mlcost.train._engine",
    "PreemptionNotice": "mlcost.train._preemption",
    "PreemptionWatcher": "mlcost.train._preemption",
    "Progress": "mlcost.train._state",
    "ResilientTrainer": "mlcost.train._engine",
    "ShardDigest": "mlcost.train._storage",
    "Split": "mlcost.train._data",
    "Step": "mlcost.train._engine",
    "TrainConfig": "mlcost.train._finetune",
    "TrainResult": "mlcost.train._finetune",
    "builtin_model_dir": "mlcost.train._data",
    "builtin_sentiment": "mlcost.train._data",
    "collate": "mlcost.train._finetune",
    "country_for_region": "mlcost.train._accounting",
    "epoch_batches": "mlcost.train._order",
    "epoch_order": "mlcost.train._order",
    "fit_max_length": "mlcost.train._finetune",
    "launched_rank": "mlcost.train._distributed",
    "load_data": "mlcost.train._data",
    "machine_price": "mlcost.train._accounting",
    "predict": "mlcost.train._finetune",
    "prepare": "mlcost.train._finetune",
    "read_labelled": "mlcost.train._data",
    "resolve_model_dir": "mlcost.train._finetune",
    "run_torchrun": "mlcost.train._launch",
    "run_training": "mlcost.train._finetune",
    "split_indices": "mlcost.train._data",
}


def __getattr__(name: str) -> Any:
    # Load on first use: commands that never train must not pay for importing torch.
    if name not in _HOME:
        raise AttributeError(f"module 'mlcost.train' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value


__all__ = [
    "BUILTIN_DATA",
    "BUILTIN_MODEL",
    "CLOUDS",
    "EXIT_PREEMPTED",
    "PREEMPTED_MARKER_ENV",
    "CarbonMeter",
    "CheckpointInfo",
    "CheckpointPolicy",
    "CheckpointSchedule",
    "CheckpointStorage",
    "Cloud",
    "CrossEntropy",
    "Distillation",
    "FineTuning",
    "Footprint",
    "LabelledData",
    "Loss",
    "LossFactory",
    "MachinePrice",
    "Preempted",
    "PreemptionNotice",
    "PreemptionWatcher",
    "Progress",
    "ResilientTrainer",
    "ShardDigest",
    "Split",
    "Step",
    "TrainConfig",
    "TrainResult",
    "builtin_model_dir",
    "builtin_sentiment",
    "collate",
    "country_for_region",
    "distillation_from",
    "epoch_batches",
    "epoch_order",
    "fit_max_length",
    "launched_rank",
    "load_data",
    "machine_price",
    "predict",
    "prepare",
    "read_labelled",
    "resolve_model_dir",
    "run_torchrun",
    "run_training",
    "split_indices",
    "teacher_logits",
]
