"""`mlcost train` under torchrun: join its process group, pick this process's device.

torchrun starts one worker per GPU (or one per CPU node) with ``RANK``,
``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT`` set; a user's
own script calls ``init_process_group`` itself, ``mlcost train`` does it here.
The engine then shards the data by rank, lets rank 0 alone write the shared
checkpoint state and stops every rank together on a notice (docs/train.md).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.distributed as dist


def launched_rank() -> int:
    """This process's global rank as torchrun set it (0 when not launched by torchrun)."""
    return int(os.environ.get("RANK", "0"))


def launched_world_size() -> int:
    """The number of processes torchrun started across every node (1 when not under torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def local_device() -> torch.device:
    """The GPU of this process's ``LOCAL_RANK`` when CUDA is available, else the CPU."""
    if not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))


@contextmanager
def process_group() -> Iterator[torch.device]:
    """Join torchrun's process group (env:// rendezvous) when it started more than one process.

    Yields this process's device. The backend follows the device: NCCL for GPUs,
    gloo for CPUs. A group the caller initialised already is used as it is and
    left to the caller; one joined here is left again on the way out.
    """
    device = local_device()
    if launched_world_size() <= 1 or dist.is_initialized():
        yield device
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)  # NCCL's collectives run on the current device
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", init_method="env://")
    try:
        yield device
    finally:
        dist.destroy_process_group()
