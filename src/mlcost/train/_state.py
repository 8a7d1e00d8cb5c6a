"""Everything a bit-identical resume needs, to and from bytes.

Shared state (model with buffers, optimizer, LR scheduler, grad scaler,
progress) is written once; random-number state is written per rank, since
each process of a distributed run draws its own dropout masks.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from mlcost.core import TrainError


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a run stands: the next step to run is (epoch, index_in_epoch); global_step steps are done."""

    epoch: int = 0
    index_in_epoch: int = 0
    global_step: int = 0


def to_bytes(obj: Any) -> bytes:
    """torch.save into memory."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def from_bytes(data: bytes, *, what: str) -> Any:
    """torch.load from memory, tensors only (weights_only: a checkpoint can never run code).

    Raises TrainError when the bytes are not a checkpoint this mlcost wrote.
    """
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad pickle
        raise TrainError(
            f"cannot read the {what} of a checkpoint: {exc}; delete that checkpoint folder"
        ) from exc


def capture_rng(generators: dict[str, torch.Generator]) -> dict[str, Any]:
    """The state of every random generator a training step can draw from."""
    numpy_state = np.random.get_state(legacy=False)
    state: dict[str, Any] = {
        "python": _python_state_to_lists(random.getstate()),
        "numpy": {
            "bit_generator": numpy_state["bit_generator"],
            "key": torch.from_numpy(numpy_state["state"]["key"].astype(np.int64)),
            "pos": int(numpy_state["state"]["pos"]),
            "has_gauss": int(numpy_state["has_gauss"]),
            "gauss": float(numpy_state["gauss"]),
        },
        "torch": torch.get_rng_state(),
        "generators": {name: gen.get_state() for name, gen in generators.items()},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any], generators: dict[str, torch.Generator]) -> None:
    """Put every generator back where ``capture_rng`` found it.

    Raises TrainError when the checkpoint lacks a generator the run uses.
    """
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    numpy = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": numpy["bit_generator"],
            "state": {"key": numpy["key"].numpy().astype(np.uint32), "pos": numpy["pos"]},
            "has_gauss": numpy["has_gauss"],
            "gauss": numpy["gauss"],
        }
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    for name, generator in generators.items():
        if name not in state["generators"]:
            raise TrainError(
                f"the checkpoint has no state for generator {name!r}; it was written by another loop"
            )
        generator.set_state(state["generators"][name])


def _python_state_to_lists(state: tuple[Any, ...]) -> list[Any]:
    version, internal, gauss = state
    return [version, list(internal), gauss]
