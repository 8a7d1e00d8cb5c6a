"""Checkpoint overhead as a share of step time, on the demo model, measured on this machine.

Run: ``.venv/bin/python bench/checkpoint_overhead.py [--steps 40] [--out-dir TMP]``

The demo recipe: all-MiniLM-L6-v2 as a sequence classifier on the built-in
sentiment data, freeze_layers=3, batch 32, lr 2e-4, max length fitted to the
data. The model, optimizer and scheduler are built the way ``run_training``
builds them (its own helpers) and wrapped in ResilientTrainer with a local
checkpoint folder in a temp dir. One training run then does:

1. 3 warm-up steps and one warm-up checkpoint, left out of every figure;
2. N timed steps in blocks of K, alternating ABBA between blocks with a
   checkpoint every k steps and blocks with none, so machine noise hits steps
   and writes alike. Every step is timed (perf_counter around the full step:
   collate, forward, backward, optimizer and scheduler step); every checkpoint
   is the engine's own full commit (model + optimizer + scheduler + RNG
   shards, manifest, ``latest`` pointer, retention), timed by the engine
   (``trainer.checkpoint_write_s``); every block is also timed whole. The
   second block of each pair replays the first one's batches, so both arms
   train on the same padded lengths.

From those: overhead at an interval of n steps = write_s / (n * step_s), with
write_s and step_s the measured means; and, measured end to end,
(t_with - t_without) / t_without over the blocks. Benchmarks report; this one
exits 0 whether or not the target is met.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
import transformers

from mlcost.train import (
    CheckpointPolicy,
    CheckpointSchedule,
    CrossEntropy,
    ResilientTrainer,
    TrainConfig,
    interruptions_per_hour,
    prepare,
    young_daly_interval_s,
)

TARGET_OVERHEAD = 0.02
AUTO_BUCKETS = ("<5%", ">20%")
AUTO_CAP_S = 1800.0
FIXED_INTERVALS = (50, 100, 200)
WARMUP_STEPS = 3
MB = 1e6


class PlannedSchedule(CheckpointSchedule):
    """Due after exactly the planned global steps, so one run holds every timed phase."""

    def __init__(self, due_steps: set[int]) -> None:
        super().__init__(CheckpointPolicy(every_steps=1))
        self.due_steps = due_steps

    def is_due(self, step: int) -> bool:
        return step in self.due_steps


def demo_config(out_dir: Path) -> TrainConfig:
    """The demo teacher's recipe, as `mlcost demo` trains it."""
    return TrainConfig.demo(out_dir)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def filesystem_of(path: Path) -> str:
    """The filesystem type holding ``path`` (longest matching mount in /proc/mounts)."""
    best, kind = "", "unknown"
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return kind
    resolved = str(path.resolve())
    for line in mounts:
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1]
        inside = resolved == point or resolved.startswith(point.rstrip("/") + "/")
        if inside and len(point) > len(best):
            best, kind = point, fields[2]
    return kind


def load_average() -> str:
    """1/5/15-minute load averages, for judging how much other work shared the CPUs."""
    try:
        return " / ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile, q in [0, 100]."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def build(config: TrainConfig) -> tuple[ResilientTrainer, Callable[[list[int]], None], int]:
    """Model, optimizer, scheduler and trainer exactly as run_training makes them (``prepare``).

    Returns the trainer, the training step (run_training's loop body) and the training rows.
    """
    run = prepare(config)
    run.trainer.schedule = PlannedSchedule(set())  # replaced by the plan in main()
    loss = CrossEntropy()

    def train_step(indices: list[int]) -> None:
        run.train_step(indices, loss)

    model = run.model
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    print(
        f"model: {config.model} ({sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters, "
        f"{frozen / 1e6:.1f} M frozen), data: {len(run.train_indices):,} training rows, "
        f"max length {run.max_length} (fitted), {run.total_steps:,} steps/epoch",
        flush=True,
    )
    model.train()
    return run.trainer, train_step, len(run.train_indices)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--steps", type=int, default=40, help="timed training steps (N)")
    parser.add_argument(
        "--block-steps", type=int, default=4, help="steps per ABBA block (K; N/K blocks)"
    )
    parser.add_argument(
        "--every", type=int, default=2, help="checkpoint every k steps in 'with' blocks"
    )
    parser.add_argument(
        "--out-dir", type=Path, default=None, help="where the temp checkpoint folder goes"
    )
    args = parser.parse_args(argv)
    if min(args.steps, args.block_steps, args.every) < 1:
        parser.error("--steps, --block-steps and --every must be >= 1")
    if args.steps % args.block_steps or (args.steps // args.block_steps) % 2:
        parser.error("--steps must be an even number of --block-steps blocks")
    if args.block_steps % args.every:
        parser.error("--block-steps must be a multiple of --every")
    return args


def plan(n: int, block_steps: int, every: int) -> tuple[list[tuple[bool, int]], set[int], int]:
    """Blocks as (with checkpoints, first global step), the steps a checkpoint follows, the last step.

    Steps are global and 1-based; a checkpoint "after step s" is written by the
    engine when the loop asks for step s+1, i.e. between the timed bodies of s
    and s+1, and inside the block's wall time.
    """
    first_timed = WARMUP_STEPS + 1
    due = {WARMUP_STEPS}  # the warm-up checkpoint
    blocks: list[tuple[bool, int]] = []
    for index in range(n // block_steps):
        with_checkpoints = index % 4 in (0, 3)  # ABBA ABBA ...
        first = first_timed + index * block_steps
        blocks.append((with_checkpoints, first))
        if with_checkpoints:
            due |= set(range(first + every - 1, first + block_steps, every))
    return blocks, due, first_timed + n - 1


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    transformers.logging.set_verbosity_error()  # type: ignore[no-untyped-call]  # no "newly initialized" notice
    transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    started = time.perf_counter()
    if args.out_dir is not None:
        args.out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mlcost-ckpt-bench-", dir=args.out_dir) as tmp:
        run_dir = Path(tmp)
        config = demo_config(run_dir)
        print("Checkpoint overhead on the demo model -- every figure measured on this machine")
        print(
            f"CPU: {cpu_model()}; {os.cpu_count()} logical CPUs, torch threads {torch.get_num_threads()}; "
            f"torch {torch.__version__}; load average {load_average()} (above the torch threads: other work shares the CPUs)"
        )
        print(
            f"recipe: freeze_layers={config.freeze_layers}, batch {config.batch_size}, "
            f"lr {config.learning_rate:g}, weight decay {config.weight_decay:g}, seed {config.seed}"
        )
        print(
            f"checkpoints: {config.checkpoint_location} ({filesystem_of(run_dir)}), keep_last {config.keep_last}"
        )
        trainer, train_step, num_samples = build(config)

        n, k_block, k_every = args.steps, args.block_steps, args.every
        blocks, due, last_step = plan(n, k_block, k_every)
        trainer.schedule = PlannedSchedule(due)
        print(
            f"plan: {WARMUP_STEPS} warm-up steps + 1 warm-up checkpoint, then {n} timed steps in "
            f"{len(blocks)} ABBA blocks of {k_block}: 'with' blocks checkpoint every {k_every} steps "
            f"({len(due) - 1} timed checkpoints), 'without' blocks never",
            flush=True,
        )

        # The second block of each pair replays the first one's batches: dynamic padding makes
        # some batches dearer than others, and that must not count as checkpoint overhead.
        replay = {
            first + offset: blocks[index - 1][1] + offset
            for index, (_, first) in enumerate(blocks)
            if index % 2
            for offset in range(k_block)
        }
        batches: dict[int, list[int]] = {}
        step_start: dict[int, float] = {}
        step_s: dict[int, float] = {}
        for step in trainer.steps(
            num_epochs=1, num_samples=num_samples, batch_size=config.batch_size
        ):
            now = time.perf_counter()
            step_start[step.global_step] = now
            if step.global_step > last_step:
                break  # its start time closed the last block; the step itself is not run
            if step.global_step == WARMUP_STEPS + 1:
                print(f"  warm-up done at {now - started:.0f} s", flush=True)
            batch = (
                batches[replay[step.global_step]] if step.global_step in replay else step.indices
            )
            batches[step.global_step] = batch
            train_step(batch)
            step_s[step.global_step] = time.perf_counter() - now
        else:
            print("the epoch ended before the plan did; use fewer --steps", file=sys.stderr)
            return 0
        total_s = time.perf_counter() - started

        warmup_write_s, *writes = trainer.checkpoint_write_s
        steps = [step_s[s] for s in range(WARMUP_STEPS + 1, last_step + 1)]
        info = trainer.last_checkpoint
        assert info is not None
        shard_sizes = {name: d.size_bytes for name, d in sorted(info.shards.items())}
        size_mb = sum(shard_sizes.values()) / MB
        step_mean = statistics.fmean(steps)
        write_mean = statistics.fmean(writes)

        print()
        print(f"step time (measured, {len(steps)} steps, perf_counter around each full step):")
        print(
            f"  mean {step_mean:.3f} s   p50 {percentile(steps, 50):.3f} s   "
            f"p95 {percentile(steps, 95):.3f} s   min {min(steps):.3f} s   max {max(steps):.3f} s"
        )
        print(
            f"checkpoint write time (measured, {len(writes)} full commits interleaved with those steps; "
            f"warm-up write {warmup_write_s:.3f} s left out):"
        )
        print(
            f"  mean {write_mean:.3f} s   p50 {percentile(writes, 50):.3f} s   "
            f"max {max(writes):.3f} s   ({size_mb / write_mean:.0f} MB/s)"
        )
        print(
            f"checkpoint size (measured): {size_mb:.1f} MB  ("
            + ", ".join(f"{name} {size / MB:.2f} MB" for name, size in shard_sizes.items())
            + ", plus manifest)"
        )

        print()
        print(
            "overhead = write_s / (interval_steps * step_s), write_s and step_s the measured means"
        )
        print(f"  {'interval':<34} {'seconds':>9} {'steps':>7} {'overhead':>9}")
        auto_overheads: list[float] = []
        for bucket in AUTO_BUCKETS:
            rate = interruptions_per_hour(bucket)
            schedule = CheckpointSchedule(
                CheckpointPolicy(
                    is_auto=True, interruptions_per_hour=rate, max_interval_s=AUTO_CAP_S
                )
            )
            for write in writes:
                schedule.record_checkpoint(0, write)
            interval_s = schedule.interval_s
            assert interval_s is not None
            # A time interval fires at the end of the first step after it has passed.
            interval_steps = max(1, math.ceil(interval_s / step_mean))
            overhead = write_mean / (interval_steps * step_mean)
            auto_overheads.append(overhead)
            uncapped_s = young_daly_interval_s(write_mean, 3600.0 / rate)
            print(
                f"  {'auto, spot bucket ' + bucket:<34} {interval_s:>9,.0f} {interval_steps:>7,} "
                f"{overhead:>9.3%}   (Young/Daly {uncapped_s:,.0f} s, capped at {AUTO_CAP_S:,.0f} s)"
            )
        for every in FIXED_INTERVALS:
            overhead = write_mean / (every * step_mean)
            print(
                f"  {f'every {every} steps':<34} {every * step_mean:>9,.0f} {every:>7,} {overhead:>9.3%}"
            )

        with_s = without_s = 0.0
        bodies_s = {True: 0.0, False: 0.0}
        pairs: list[float] = []
        pair: dict[bool, float] = {}
        for with_checkpoints, first in blocks:
            elapsed = step_start[first + k_block] - step_start[first]
            bodies_s[with_checkpoints] += sum(step_s[s] for s in range(first, first + k_block))
            pair[with_checkpoints] = elapsed
            if with_checkpoints:
                with_s += elapsed
            else:
                without_s += elapsed
            if len(pair) == 2:
                pairs.append((pair[True] - pair[False]) / pair[False])
                pair = {}
        measured = (with_s - without_s) / without_s
        predicted = write_mean / (k_every * step_mean)
        print()
        print(
            f"measured end to end: {len(blocks) // 2} x {k_block} steps with a checkpoint every "
            f"{k_every} steps vs {len(blocks) // 2} x {k_block} steps with none, ABBA blocks, each timed whole"
        )
        print(
            f"  t_with {with_s:.1f} s, t_without {without_s:.1f} s: (t_with - t_without) / t_without = "
            f"{measured:.2%} at every {k_every} steps  (per pair of blocks: "
            f"{', '.join(f'{p:.2%}' for p in pairs)}; the formula above gives {predicted:.2%})"
        )
        print(
            f"  where the time went (measured): step bodies {bodies_s[True]:.1f} s with vs "
            f"{bodies_s[False]:.1f} s without; writes {sum(writes):.1f} s; the rest "
            f"{with_s - bodies_s[True] - sum(writes):.2f} s with vs {without_s - bodies_s[False]:.2f} s without"
        )
        after = [step_s[s] for s in range(WARMUP_STEPS + 1, last_step + 1) if s - 1 in due]
        others = [step_s[s] for s in range(WARMUP_STEPS + 1, last_step + 1) if s - 1 not in due]
        print(
            f"  step time right after a checkpoint (measured): mean {statistics.fmean(after):.3f} s, "
            f"p50 {percentile(after, 50):.3f} s ({len(after)} steps) vs mean "
            f"{statistics.fmean(others):.3f} s, p50 {percentile(others, 50):.3f} s ({len(others)} other steps)"
        )
        print(f"bench wall time: {total_s:.0f} s; load average at the end {load_average()}")

        worst = max(auto_overheads)
        print(f"the chosen (auto) interval: the worse of spot buckets {' and '.join(AUTO_BUCKETS)}")
        verdict = "PASS" if worst < TARGET_OVERHEAD else "FAIL"
        print(
            f"TARGET checkpoint overhead < {TARGET_OVERHEAD:.0%} at the chosen (auto) interval: "
            f"{verdict} ({worst:.2%})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
