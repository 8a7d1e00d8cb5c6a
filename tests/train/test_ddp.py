"""Kill a 2-process DDP run (torchrun, gloo) and resume it bit-identically.

torchrun starts each worker in a session of its own, so killing torchrun's
process group leaves the workers running: a "machine loss" here SIGKILLs
torchrun and every process below it, found through /proc.

Two ranks is the case where DDP's gradient sum cannot depend on reduction
order (a + b == b + a). With 3+ ranks a resume is not bit-identical by
default: DDP reduces the first step after every start in one all-parameter
bucket and then rebuilds its buckets, so the ring all-reduce sums some
elements in another order on the first step after a resume.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from mlcost.train import CheckpointStorage

TOY = Path(__file__).with_name("toy_ddp.py")
TOTAL_STEPS = 24  # 120 samples over 2 ranks = 60 each: 8 batches of <= 8, x 3 epochs
TIMEOUT_S = 120


def command(ckpt: Path, out: Path, *extra: str, nproc: int = 2) -> list[str]:
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",  # a rendezvous on a free local port
        "--nproc_per_node",
        str(nproc),
        "--monitor-interval",
        "0.1",
        str(TOY),
        "--ckpt",
        str(ckpt),
        "--out",
        str(out),
        *extra,
    ]


@dataclass
class Run:
    """A torchrun launch: the process (stdout piped) and the file its stderr goes to."""

    process: subprocess.Popen[str]
    stderr_path: Path

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


@contextlib.contextmanager
def torchrun(ckpt: Path, out: Path, *extra: str, nproc: int = 2) -> Iterator[Run]:
    """torchrun in a new session; everything it started is SIGKILLed on the way out."""
    # stderr to a file: a full stderr pipe would block the run while we read stdout
    stderr_path = out.with_name(f"torchrun-{os.urandom(4).hex()}.stderr")
    with stderr_path.open("w") as stderr_file:
        process = subprocess.Popen(
            command(ckpt, out, *extra, nproc=nproc),
            stdout=subprocess.PIPE,
            stderr=stderr_file,
            text=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
            start_new_session=True,
        )
    try:
        yield Run(process, stderr_path)
    finally:
        kill_tree(process)
        if process.stdout is not None:
            process.stdout.close()
        process.wait(timeout=30)


def children(pid: int) -> list[int]:
    """Child pids of ``pid`` (/proc/PID/task/*/children where the kernel has it, else a scan)."""
    tasks = list(Path(f"/proc/{pid}/task").glob("*/children"))
    if tasks:
        found: list[int] = []
        for task in tasks:
            with contextlib.suppress(OSError):
                found += [int(child) for child in task.read_text().split()]
        return found
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # "pid (comm) state ppid ...": comm may hold spaces and parentheses
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def descendants(pid: int) -> list[int]:
    return [d for child in children(pid) for d in (child, *descendants(child))]


def kill_tree(process: subprocess.Popen[str]) -> None:
    """SIGKILL torchrun's process group and every worker (each in its own session)."""
    if process.poll() is not None:
        return
    workers = descendants(process.pid)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    for pid in workers:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)  # the worker's own session/group
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def worker_of_rank(run: Run, rank: int) -> int:
    for pid in descendants(run.process.pid):
        with contextlib.suppress(OSError):
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            if f"RANK={rank}".encode() in environ:
                return pid
    raise AssertionError(f"no worker of rank {rank} under torchrun {run.process.pid}")


def read_until(run: Run, wanted: str) -> None:
    """Read stdout up to the line ``wanted``; fails if the run ends first."""
    assert run.process.stdout is not None
    seen: list[str] = []
    for line in run.process.stdout:
        seen.append(line.strip())
        if seen[-1] == wanted:
            return
    run.process.wait(timeout=TIMEOUT_S)
    raise AssertionError(f"the run ended before {wanted!r}: {seen[-5:]}\n{run.stderr()}")


def run_to_end(ckpt: Path, out: Path, *extra: str) -> None:
    with torchrun(ckpt, out, *extra) as run:
        stdout, _ = run.process.communicate(timeout=TIMEOUT_S)
        assert run.process.returncode == 0, run.stderr()
        assert stdout.strip().endswith("done")


def assert_same_parameters(left: Path, right: Path) -> None:
    a = torch.load(left, weights_only=True)
    b = torch.load(right, weights_only=True)
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), f"{name} differs after resume"


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(checkpoint folder, parameters) of a 2-process run never interrupted."""
    folder = tmp_path_factory.mktemp("ddp-reference")
    run_to_end(folder / "ckpt", folder / "params.pt")
    return folder / "ckpt", folder / "params.pt"


@pytest.mark.slow
def test_ddp_sigkill_at_random_steps_resumes_bit_identically(
    reference: tuple[Path, Path], tmp_path: Path
) -> None:
    ckpt, out = tmp_path / "ckpt", tmp_path / "params.pt"
    for step in sorted(random.Random(3).sample(range(2, TOTAL_STEPS - 1), 2)):
        with torchrun(ckpt, out, "--sleep-s", "0.03") as run:
            read_until(run, f"rank 0 step {step}")
            kill_tree(run.process)  # the machine is gone: torchrun and both workers
            stdout, _ = run.process.communicate(timeout=TIMEOUT_S)
            assert run.process.returncode == -signal.SIGKILL
            assert "done" not in stdout
    run_to_end(ckpt, out)
    assert_same_parameters(reference[1], out)


@pytest.mark.slow
def test_ddp_sigterm_to_one_worker_stops_both_ranks_after_one_checkpoint(
    reference: tuple[Path, Path], tmp_path: Path
) -> None:
    ckpt, out = tmp_path / "ckpt", tmp_path / "params.pt"
    noticed_at = 9
    # every 1000 steps: only the preemption checkpoint can save the work done
    with torchrun(ckpt, out, "--every", "1000", "--sleep-s", "0.03") as run:
        read_until(run, f"rank 0 step {noticed_at}")
        os.kill(worker_of_rank(run, 1), signal.SIGTERM)  # rank 0 never sees a signal
        stdout, _ = run.process.communicate(timeout=TIMEOUT_S)
        stderr = run.stderr()
    assert run.process.returncode != 0, "torchrun reports a preempted group as failed"
    stopped = dict(re.findall(r"^rank (\d) preempted at step (\d+)$", stdout, re.MULTILINE))
    assert stopped.keys() == {"0", "1"}, f"both ranks must follow the vote:\n{stdout}\n{stderr}"
    assert stopped["0"] == stopped["1"]
    assert re.search(r"exitcode\s*:\s*75\b", stderr), stderr
    latest = CheckpointStorage(str(ckpt)).latest()
    assert latest is not None
    assert latest.step == int(stopped["0"]) >= noticed_at
    shards = {"model.pt", "optimizer.pt", "trainer.pt", "rng-rank0.pt", "rng-rank1.pt"}
    assert shards <= set(latest.shards)
    assert latest.metadata["world_size"] == 2
    run_to_end(ckpt, out, "--every", "1000")
    assert_same_parameters(reference[1], out)


@pytest.mark.slow
def test_ddp_checkpoint_is_refused_by_another_world_size(
    reference: tuple[Path, Path], tmp_path: Path
) -> None:
    ckpt = reference[0]
    before = sorted(p.name for p in ckpt.iterdir())
    with torchrun(ckpt, tmp_path / "params.pt", nproc=1) as run:
        stdout, _ = run.process.communicate(timeout=TIMEOUT_S)
        stderr = run.stderr()
    assert run.process.returncode != 0
    assert "written by 2 processes, this run has 1" in stderr, stderr
    assert "restart with the same --nproc_per_node" in stderr
    assert "step" not in stdout
    assert sorted(p.name for p in ckpt.iterdir()) == before
