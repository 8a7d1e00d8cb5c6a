"""`mlcost torchrun`: torchrun's exit 1 for a preempted group becomes 75, and `mlcost train`
under it trains with DDP, stops every rank at one checkpoint on SIGTERM, and resumes.

torchrun's agent exits 1 both when a worker exits 75 (ChildFailedError) and when it is
sent SIGTERM itself (SignalException); the wrapper reads the engine's marker instead.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from test_ddp import kill_tree
from tiny_model import build_tiny_bert, write_sentiment_csv

from mlcost.train import EXIT_PREEMPTED, PREEMPTED_MARKER_ENV, CheckpointStorage, run_torchrun

MLCOST = str(Path(sys.executable).with_name("mlcost"))
TIMEOUT_S = 120


def fake_torchrun(body: str) -> list[str]:
    """A stand-in for torchrun: a Python one-liner that sees the marker path as torchrun would."""
    return [sys.executable, "-c", f"import os, signal, sys, time\n{body}"]


def test_a_worker_marker_turns_the_launcher_exit_into_75() -> None:
    leave_marker = f"open(os.environ[{PREEMPTED_MARKER_ENV!r}], 'w').close(); sys.exit(1)"
    assert run_torchrun([], command=fake_torchrun(leave_marker)) == EXIT_PREEMPTED


def test_without_a_marker_the_launcher_exit_code_is_kept() -> None:
    assert run_torchrun([], command=fake_torchrun("sys.exit(3)")) == 3
    assert run_torchrun([], command=fake_torchrun("sys.exit(0)")) == 0
    killed = "os.kill(os.getpid(), signal.SIGKILL)"
    assert run_torchrun([], command=fake_torchrun(killed)) == 128 + signal.SIGKILL


def test_sigterm_to_the_wrapper_reaches_torchrun(tmp_path: Path) -> None:
    """A pod's SIGTERM goes to PID 1 only: the wrapper must hand it on."""
    ready = tmp_path / "ready"
    child = (
        "def stop(signum, frame):\n"
        f"    open(os.environ[{PREEMPTED_MARKER_ENV!r}], 'w').close(); sys.exit(1)\n"
        "signal.signal(signal.SIGTERM, stop)\n"
        f"open({str(ready)!r}, 'w').close()\n"
        "time.sleep(60)"
    )
    wrapper = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from mlcost.train import run_torchrun; "
            f"sys.exit(run_torchrun([], command={fake_torchrun(child)!r}))",
        ]
    )
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert time.monotonic() < deadline and wrapper.poll() is None
            time.sleep(0.02)
        wrapper.send_signal(signal.SIGTERM)
        assert wrapper.wait(timeout=30) == EXIT_PREEMPTED
    finally:
        wrapper.kill()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tiny")
    return build_tiny_bert(folder / "model"), write_sentiment_csv(folder / "data.csv")


def launch(tiny: tuple[Path, Path], out: Path, stderr: Path) -> subprocess.Popen[str]:
    """mlcost torchrun with 2 gloo workers running mlcost train (72 steps, checkpoint every 5)."""
    model, data = tiny
    args = ["--standalone", "--nproc-per-node", "2", "--max-restarts", "0", "-m", "mlcost"]
    args += ["--home", str(out.parent / "ws"), "train", "--model", str(model), "--data", str(data)]
    args += ["--out", str(out), "--epochs", "12", "--batch-size", "16", "--lr", "3e-3"]
    with stderr.open("w") as err:
        return subprocess.Popen(
            [MLCOST, "torchrun", *args, "--checkpoint-every", "5", "--json"],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
            start_new_session=True,
        )


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    try:
        stdout, _ = process.communicate(timeout=TIMEOUT_S)
    finally:
        kill_tree(process)
    return process.returncode, stdout


@pytest.mark.slow
def test_sigterm_mid_run_exits_75_after_one_checkpoint_and_the_rerun_resumes_exactly(
    tiny: tuple[Path, Path], tmp_path: Path
) -> None:
    code, stdout = finish(launch(tiny, tmp_path / "ref" / "out", tmp_path / "ref.stderr"))
    assert code == 0, (tmp_path / "ref.stderr").read_text()
    total_steps = json.loads(stdout)["result"]["steps"]
    assert total_steps == 12 * 6  # 192 training rows over 2 ranks: 6 steps of 16 per epoch

    out = tmp_path / "run" / "out"
    process = launch(tiny, out, tmp_path / "first.stderr")
    first_checkpoint = out / "checkpoints" / "step-000000005" / "manifest.json"
    deadline = time.monotonic() + TIMEOUT_S
    while not first_checkpoint.exists():  # training is under way on both ranks
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    process.send_signal(signal.SIGTERM)  # to mlcost torchrun, as the kubelet sends it
    code, _ = finish(process)
    stderr = (tmp_path / "first.stderr").read_text()
    assert code == EXIT_PREEMPTED, stderr
    assert "Received 15 death signal" in stderr  # torchrun's agent got it and exited 1
    stopped = re.findall(r"final checkpoint at step (\d+), exiting with 75", stderr)
    assert len(stopped) == 2 and len(set(stopped)) == 1, stderr  # both ranks, one step
    latest = CheckpointStorage(str(out / "checkpoints")).latest()  # sizes and sha256 verified
    assert latest is not None and latest.step == int(stopped[0])
    assert 5 < latest.step < total_steps  # the notice's own checkpoint, not the periodic one
    assert {"rng-rank0.pt", "rng-rank1.pt"} <= set(latest.shards)
    assert latest.metadata["world_size"] == 2
    assert not (out / "model").exists()

    code, stdout = finish(launch(tiny, out, tmp_path / "again.stderr"))
    assert code == 0, (tmp_path / "again.stderr").read_text()
    result = json.loads(stdout)["result"]  # rank 0 alone reports
    assert result["resumed_from_step"] == latest.step and result["steps"] == total_steps
    reference = load_file(tmp_path / "ref" / "out" / "model" / "model.safetensors")
    resumed = load_file(out / "model" / "model.safetensors")
    assert all(torch.equal(reference[name], resumed[name]) for name in reference)
