"""Data order that depends only on (seed, epoch), so a resumed run sees the batches it would have seen."""

from __future__ import annotations

import hashlib

import torch


def epoch_seed(seed: int, epoch: int) -> int:
    """A 63-bit seed for one epoch, independent of any global random state."""
    digest = hashlib.sha256(f"mlcost-order:{seed}:{epoch}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & ((1 << 63) - 1)


def epoch_order(seed: int, epoch: int, num_samples: int, *, shuffle: bool = True) -> list[int]:
    """Sample indices of one epoch: a permutation fixed by (seed, epoch), or 0..n-1."""
    if not shuffle:
        return list(range(num_samples))
    generator = torch.Generator().manual_seed(epoch_seed(seed, epoch))
    return [int(i) for i in torch.randperm(num_samples, generator=generator)]


def epoch_batches(
    seed: int,
    epoch: int,
    num_samples: int,
    batch_size: int,
    *,
    rank: int = 0,
    world_size: int = 1,
    shuffle: bool = True,
    drop_last: bool = False,
) -> list[list[int]]:
    """This rank's batches of one epoch.

    Every rank gets the same number of batches so collective operations never
    wait on a rank that ran out of data: as torch's DistributedSampler does,
    the permutation is padded by wrapping around to a multiple of world_size
    (or, with drop_last, cut to a multiple of world_size x batch_size).
    """
    order = epoch_order(seed, epoch, num_samples, shuffle=shuffle)
    if drop_last:
        per_step = batch_size * world_size
        order = order[: len(order) - len(order) % per_step]
    elif order and len(order) % world_size:
        missing = world_size - len(order) % world_size
        order = order + (order * (missing // len(order) + 1))[:missing]
    mine = order[rank::world_size]
    return [mine[i : i + batch_size] for i in range(0, len(mine), batch_size)]
