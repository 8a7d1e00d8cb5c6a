"""A small training loop on the resilient engine, run as a subprocess by the kill/resume tests.

Every source of randomness a real loop has is used: dropout (torch's global
generator), an explicit generator, Python's and NumPy's random, BatchNorm
buffers, Adam state and an LR schedule. It prints "step N" after each step,
and at the end saves the parameters to --out.
"""

from __future__ import annotations

import argparse
import random
import sys
import time

import numpy as np
import torch

from mlcost.train import CheckpointPolicy, PreemptionWatcher, ResilientTrainer


def build(
    seed: int,
) -> tuple[torch.nn.Module, torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(16, 32),
        torch.nn.BatchNorm1d(32),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.3),
        torch.nn.Linear(32, 3),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.9)
    return model, optimizer, scheduler


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ckpt", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--every", default="4")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--sleep-s", type=float, default=0.0)
    parser.add_argument("--cloud", default=None)
    parser.add_argument("--metadata-url", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    seed = 7
    random.seed(seed)
    np.random.seed(seed)
    data_rng = torch.Generator().manual_seed(123)
    inputs = torch.randn(120, 16, generator=data_rng)
    targets = torch.randint(0, 3, (120,), generator=data_rng)
    model, optimizer, scheduler = build(seed)
    noise = torch.Generator().manual_seed(99)
    watcher = PreemptionWatcher(
        cloud=args.cloud, metadata_url=args.metadata_url, poll_interval_s=0.05
    ).start()
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
    for step in trainer.steps(num_epochs=args.epochs, num_samples=len(inputs), batch_size=8):
        batch = inputs[step.indices] + 0.01 * torch.randn(len(step.indices), 16, generator=noise)
        batch = batch * float(np.random.uniform(0.9, 1.1)) * random.uniform(0.95, 1.05)
        loss = torch.nn.functional.cross_entropy(model(batch), targets[step.indices])
        loss.backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        print(f"step {step.global_step}", flush=True)
        if args.sleep_s:
            time.sleep(args.sleep_s)
    watcher.stop()
    torch.save({k: v.clone() for k, v in model.state_dict().items()}, args.out)
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
