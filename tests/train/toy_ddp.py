"""toy_train.py under torchrun: DDP on gloo, run as a subprocess by test_ddp.py.

    python -m torch.distributed.run --standalone --nproc_per_node 2 toy_ddp.py --ckpt D --out P

Every rank seeds Python, NumPy and torch identically (so dropout masks are
the same on every rank) and draws rank-specific noise from an explicit
generator, so both the shared and the per-rank random state must survive a
resume. Each rank prints "rank R step N" after each step; on a preemption
each rank prints "rank R preempted at step N" before exiting with 75. At the
end rank 0 saves the unwrapped model's state_dict to --out and prints "done".
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from mlcost.core import TrainError
from mlcost.train import CheckpointPolicy, Preempted, PreemptionWatcher, ResilientTrainer


def build(
    seed: int,
) -> tuple[DistributedDataParallel, torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(16, 32),
        torch.nn.BatchNorm1d(32),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.3),
        torch.nn.Linear(32, 3),
    )
    ddp = DistributedDataParallel(model)
    optimizer = torch.optim.Adam(ddp.parameters(), lr=0.01)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.9)
    return ddp, optimizer, scheduler


def say(line: str) -> None:
    """One write per line: with PYTHONUNBUFFERED, print() writes the text and the newline
    separately, and two ranks sharing torchrun's stdout would interleave them."""
    sys.stdout.write(f"{line}\n")
    sys.stdout.flush()


def train(args: argparse.Namespace, rank: int) -> None:
    seed = 7
    random.seed(seed)
    np.random.seed(seed)
    data_rng = torch.Generator().manual_seed(123)
    inputs = torch.randn(120, 16, generator=data_rng)
    targets = torch.randint(0, 3, (120,), generator=data_rng)
    model, optimizer, scheduler = build(seed)
    noise = torch.Generator().manual_seed(99 + rank)
    watcher = PreemptionWatcher(poll_interval_s=0.05).start()
    trainer = ResilientTrainer(
        model,
        optimizer,
        scheduler=scheduler,
        checkpoint_url=args.ckpt,
        seed=seed,
        policy=CheckpointPolicy.parse(args.every),
        generators={"noise": noise},
        watcher=watcher,
        keep_last=2,
    )
    trainer.resume()
    model.train()
    step_number = trainer.progress.global_step
    try:
        for step in trainer.steps(num_epochs=args.epochs, num_samples=len(inputs), batch_size=8):
            step_number = step.global_step
            batch = inputs[step.indices] + 0.01 * torch.randn(
                len(step.indices), 16, generator=noise
            )
            batch = batch * float(np.random.uniform(0.9, 1.1)) * random.uniform(0.95, 1.05)
            loss = torch.nn.functional.cross_entropy(model(batch), targets[step.indices])
            loss.backward()
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            say(f"rank {rank} step {step.global_step}")
            if args.sleep_s:
                time.sleep(args.sleep_s)
    except Preempted:
        say(f"rank {rank} preempted at step {step_number}")
        raise
    watcher.stop()
    if rank == 0:
        state = model.module.state_dict()
        torch.save({k: v.clone() for k, v in state.items()}, args.out)
        say("done")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ckpt", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--every", default="4")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--sleep-s", type=float, default=0.0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    # The CPU kernels used here are deterministic already; on CUDA also call
    # torch.use_deterministic_algorithms(True) (it costs ~3 s of imports per process).
    dist.init_process_group("gloo")  # MASTER_ADDR, RANK, WORLD_SIZE... from torchrun
    code = 0
    try:
        train(args, dist.get_rank())
    except Preempted as preempted:  # raised after the final checkpoint
        code = int(preempted.code or 0)
    except TrainError as error:
        sys.stderr.write(f"TrainError: {error}\n")
        code = 2
    finally:
        dist.destroy_process_group()
    # Skip the interpreter's teardown of torch (1-3 s per process on a busy 2-core box):
    # everything this run writes is closed already.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
