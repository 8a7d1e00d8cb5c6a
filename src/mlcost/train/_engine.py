"""The resilient training loop: deterministic steps, checkpoints when due, a clean exit on preemption.

A PyTorch loop adopts it in a few lines::

    trainer = ResilientTrainer(model, optimizer, checkpoint_url="ckpt/", seed=42,
                               policy=CheckpointPolicy.parse("auto", interruptions_per_hour=1e-4))
    trainer.resume()
    for step in trainer.steps(num_epochs=3, num_samples=len(data), batch_size=32):
        loss = loss_of(model, collate(data, step.indices))
        loss.backward(); optimizer.step(); optimizer.zero_grad()

Killed at any moment and started again with the same arguments, the loop
ends with parameters bit-identical to a run that was never interrupted (on
CPU; see docs/train.md for the GPU determinism settings).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import torch
import torch.distributed as dist

from mlcost.core import TrainError, write_text_atomic
from mlcost.train._interval import CheckpointPolicy, CheckpointSchedule
from mlcost.train._order import epoch_batches
from mlcost.train._preemption import (
    EXIT_PREEMPTED,
    PREEMPTED_MARKER_ENV,
    PreemptionNotice,
    PreemptionWatcher,
)
from mlcost.train._state import Progress, capture_rng, from_bytes, restore_rng, to_bytes
from mlcost.train._storage import CheckpointInfo, CheckpointStorage, ShardDigest

logger = logging.getLogger("mlcost.train")

_SHARED_SHARDS = ("model.pt", "optimizer.pt", "trainer.pt")
# Settings that fix the data order: a checkpoint is only valid for the same ones.
_ORDER_KEYS = (
    "fingerprint",
    "seed",
    "num_samples",
    "batch_size",
    "world_size",
    "shuffle",
    "drop_last",
)


@dataclass(frozen=True, slots=True)
class Step:
    """One optimizer step: where it is, and the sample indices of this rank's batch."""

    epoch: int
    index_in_epoch: int
    global_step: int
    indices: list[int]


class Preempted(SystemExit):
    """Raised after the final checkpoint on a preemption notice; exits with EXIT_PREEMPTED (75)."""

    def __init__(self, notice: PreemptionNotice, checkpoint: CheckpointInfo | None) -> None:
        super().__init__(EXIT_PREEMPTED)
        self.notice = notice
        self.checkpoint = checkpoint


def _rank_and_world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _with_mappings(
    info: CheckpointInfo | None, wrap: Callable[[dict[str, Any]], Mapping[str, Any]]
) -> CheckpointInfo | None:
    if info is None:
        return None
    return dataclasses.replace(
        info, shards=wrap(dict(info.shards)), metadata=wrap(dict(info.metadata))
    )


class ResilientTrainer:
    """Checkpoint, resume and preemption handling around any PyTorch loop.

    Under torchrun with DDP, rank 0 writes the shared state, every rank its
    random-number state, and rank 0 commits the manifest after a barrier.
    ``fingerprint`` names the run's model, data and recipe: a checkpoint
    written under another fingerprint is refused rather than resumed.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        *,
        checkpoint_url: str,
        seed: int,
        policy: CheckpointPolicy,
        scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
        scaler: torch.amp.GradScaler | None = None,
        generators: Mapping[str, torch.Generator] | None = None,
        watcher: PreemptionWatcher | None = None,
        keep_last: int = 3,
        storage_options: Mapping[str, Any] | None = None,
        fingerprint: str = "",
    ) -> None:
        self.model = model
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.scaler = scaler
        self.seed = seed
        self.fingerprint = fingerprint
        self.generators = dict(generators or {})
        self.watcher = watcher
        self.storage = CheckpointStorage(
            checkpoint_url, keep_last=keep_last, storage_options=storage_options
        )
        self.schedule = CheckpointSchedule(policy)
        self.rank, self.world_size = _rank_and_world()
        self.progress = Progress()
        self.last_checkpoint: CheckpointInfo | None = None  # on rank 0 (every rank after resume)
        self.last_checkpoint_step: int | None = None  # on every rank
        self.checkpoint_write_s: list[float] = []
        self._resumed_order: dict[str, Any] | None = None
        self._order: dict[str, Any] = {}

    # -- resume ---------------------------------------------------------------------------

    def resume(self) -> Progress:
        """Load the newest checkpoint that verifies, if any; returns where the run stands."""
        info = self._agree_on_latest()
        if info is None:
            return self.progress
        if info.metadata.get("world_size") != self.world_size:
            raise TrainError(
                f"the checkpoint {info.url} was written by {info.metadata.get('world_size')} processes, "
                f"this run has {self.world_size}; restart with the same --nproc_per_node"
            )
        self._unwrapped_model().load_state_dict(self._load(info, "model.pt"))
        self.optimizer.load_state_dict(self._load(info, "optimizer.pt"))
        trainer_state = self._load(info, "trainer.pt")
        if self.scheduler is not None:
            self.scheduler.load_state_dict(trainer_state["scheduler"])
        if self.scaler is not None:
            self.scaler.load_state_dict(trainer_state["scaler"])
        restore_rng(self._load(info, f"rng-rank{self.rank}.pt"), self.generators)
        self.progress = Progress(**trainer_state["progress"])
        self._resumed_order = dict(trainer_state["order"])
        self.last_checkpoint = info
        self.last_checkpoint_step = info.step
        logger.info("resumed from %s at step %d", info.url, self.progress.global_step)
        return self.progress

    def _agree_on_latest(self) -> CheckpointInfo | None:
        if self.world_size == 1:
            return self.storage.latest()
        latest = self.storage.latest() if self.rank == 0 else None
        # CheckpointInfo holds read-only mappingproxy views, which cannot be pickled:
        # broadcast plain dicts and wrap them again on the receiving ranks.
        found: list[CheckpointInfo | None] = [_with_mappings(latest, dict)]
        dist.broadcast_object_list(found, src=0)
        return latest if self.rank == 0 else _with_mappings(found[0], MappingProxyType)

    def _load(self, info: CheckpointInfo, name: str) -> Any:
        return from_bytes(self.storage.read_shard(info, name), what=name)

    def _unwrapped_model(self) -> torch.nn.Module:
        inner = getattr(self.model, "module", self.model)
        assert isinstance(inner, torch.nn.Module)
        return inner

    # -- the loop -------------------------------------------------------------------------

    def steps(
        self,
        *,
        num_epochs: int,
        num_samples: int,
        batch_size: int,
        shuffle: bool = True,
        drop_last: bool = False,
    ) -> Iterator[Step]:
        """Yield the steps still to run; after each, checkpoint when due or on a preemption notice.

        The caller's loop body is the step. Raises Preempted (exit code 75)
        after writing the final checkpoint when a notice arrives, and
        TrainError when the checkpoint being resumed used other settings.
        """
        if num_samples < 1 or batch_size < 1 or num_epochs < 1:
            raise TrainError("num_epochs, num_samples and batch_size must all be >= 1")
        self._order = {
            "fingerprint": self.fingerprint,
            "seed": self.seed,
            "num_samples": num_samples,
            "batch_size": batch_size,
            "world_size": self.world_size,
            "shuffle": shuffle,
            "drop_last": drop_last,
        }
        self._check_same_order()
        while self.progress.epoch < num_epochs:
            batches = epoch_batches(
                self.seed,
                self.progress.epoch,
                num_samples,
                batch_size,
                rank=self.rank,
                world_size=self.world_size,
                shuffle=shuffle,
                drop_last=drop_last,
            )
            for index in range(self.progress.index_in_epoch, len(batches)):
                done = self.progress.global_step + 1
                yield Step(self.progress.epoch, index, done, batches[index])
                is_last = index + 1 == len(batches)
                self.progress = Progress(
                    self.progress.epoch + 1 if is_last else self.progress.epoch,
                    0 if is_last else index + 1,
                    done,
                )
                self._after_step(done)
            if not batches:
                self.progress = dataclasses.replace(self.progress, epoch=self.progress.epoch + 1)
        if self.last_checkpoint_step != self.progress.global_step:
            self.checkpoint()

    def _check_same_order(self) -> None:
        if self._resumed_order is None:
            return
        changed = [key for key in _ORDER_KEYS if self._resumed_order.get(key) != self._order[key]]
        if changed:
            was = ", ".join(f"{key}={self._resumed_order.get(key)!r}" for key in changed)
            now = ", ".join(f"{key}={self._order[key]!r}" for key in changed)
            raise TrainError(
                f"the checkpoint {self.last_checkpoint.url if self.last_checkpoint else ''} was written with "
                f"{was}, this run has {now}; rerun with the same settings or use a new checkpoint location"
            )

    def _after_step(self, step: int) -> None:
        is_due = self.schedule.is_due(step)
        notice = self.watcher.notice if self.watcher is not None else None
        is_due, is_preempted = self._agree(is_due, notice is not None)
        if is_due or is_preempted:
            self.checkpoint()
        if is_preempted:
            notice = notice or PreemptionNotice("another rank", "preempted", datetime.now(UTC))
            logger.warning(
                "preempted (%s: %s); final checkpoint at step %d, exiting with %d",
                notice.source,
                notice.detail,
                step,
                EXIT_PREEMPTED,
            )
            self._leave_preempted_marker(step)
            raise Preempted(notice, self.last_checkpoint)

    def _leave_preempted_marker(self, step: int) -> None:
        """Say "preempted" where a launcher looks: torchrun's agent reports a worker's exit
        code 75 as its own exit 1, so `mlcost torchrun` reads this file instead."""
        marker = os.environ.get(PREEMPTED_MARKER_ENV)
        if marker:
            write_text_atomic(Path(marker), f"rank {self.rank} preempted at step {step}\n")

    def _agree(self, is_due: bool, is_preempted: bool) -> tuple[bool, bool]:
        """Every rank checkpoints and stops together: any rank's vote counts."""
        if self.world_size == 1:
            return is_due, is_preempted
        # NCCL reduces CUDA tensors only; gloo (and a cpu:gloo,cuda:nccl group) CPU ones.
        device = (
            torch.device("cuda", torch.cuda.current_device())
            if dist.get_backend() == "nccl"
            else torch.device("cpu")
        )
        votes = torch.tensor([int(is_due), int(is_preempted)], dtype=torch.int64, device=device)
        dist.all_reduce(votes, op=dist.ReduceOp.MAX)
        return bool(votes[0]), bool(votes[1])

    # -- writing --------------------------------------------------------------------------

    def checkpoint(self) -> CheckpointInfo | None:
        """Write and commit a checkpoint of the current state; returns it (None on ranks > 0)."""
        started = time.perf_counter()
        step = self.progress.global_step
        digests: dict[str, ShardDigest] = {}
        if self.rank == 0:
            for name, data in self._shared_state().items():
                digests[name] = self.storage.write_shard(step, name, data)
        rng_name = f"rng-rank{self.rank}.pt"
        digests[rng_name] = self.storage.write_shard(
            step, rng_name, to_bytes(capture_rng(self.generators))
        )
        info = self._commit(step, digests)
        write_s = time.perf_counter() - started
        self.schedule.record_checkpoint(step, write_s)
        self.checkpoint_write_s.append(write_s)
        self.last_checkpoint = info
        self.last_checkpoint_step = step
        return info

    def _shared_state(self) -> dict[str, bytes]:
        trainer_state = {
            "progress": dataclasses.asdict(self.progress),
            "order": self._order,
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
        }
        return {
            "model.pt": to_bytes(self._unwrapped_model().state_dict()),
            "optimizer.pt": to_bytes(self.optimizer.state_dict()),
            "trainer.pt": to_bytes(trainer_state),
        }

    def _commit(self, step: int, digests: dict[str, ShardDigest]) -> CheckpointInfo | None:
        metadata = {**self._order, "world_size": self.world_size, "global_step": step}
        if self.world_size == 1:
            return self.storage.commit(step, digests, metadata)
        gathered: list[dict[str, ShardDigest] | None] = (
            [None] * self.world_size if self.rank == 0 else []
        )
        dist.gather_object(digests, gathered if self.rank == 0 else None, dst=0)
        info = None
        if self.rank == 0:
            merged = {name: digest for part in gathered if part for name, digest in part.items()}
            info = self.storage.commit(step, merged, metadata)
        # No rank runs ahead of the commit: a kill after this point finds it on disk.
        dist.barrier()
        return info
