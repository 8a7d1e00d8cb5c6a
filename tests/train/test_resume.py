"""Kill a training run at random steps, resume it, and get bit-identical parameters."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

TOY = Path(__file__).with_name("toy_train.py")
TOTAL_STEPS = 45  # 120 samples / batch 8 x 3 epochs


def start(
    ckpt: str, out: Path, *extra: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(TOY), "--ckpt", ckpt, "--out", str(out), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def run_to_end(ckpt: str, out: Path, *extra: str, env: dict[str, str] | None = None) -> None:
    process = start(ckpt, out, *extra, env=env)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert stdout.strip().endswith("done")


def kill_at_step(process: subprocess.Popen[str], step: int, sig: signal.Signals) -> int | None:
    """Send ``sig`` once the run prints ``step``; returns the exit code, None if it finished first."""
    assert process.stdout is not None
    for line in process.stdout:
        if line.strip() == f"step {step}":
            process.send_signal(sig)
            process.communicate(timeout=60)
            return process.returncode
    process.wait(timeout=60)
    return None


def assert_same_parameters(left: Path, right: Path) -> None:
    a = torch.load(left, weights_only=True)
    b = torch.load(right, weights_only=True)
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), f"{name} differs after resume"


@pytest.fixture
def s3_env(moto_endpoint_url: str) -> dict[str, str]:
    """How a user points fsspec at an S3-compatible server: environment variables."""
    return {
        "FSSPEC_S3_ENDPOINT_URL": moto_endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }


@pytest.fixture
def s3_bucket_url(s3_bucket: str) -> str:
    return f"s3://{s3_bucket}"


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("reference")
    out = folder / "params.pt"
    run_to_end(str(folder / "ckpt"), out)
    return out


def resume_after_kills(
    ckpt: str, out: Path, seed: int, env: dict[str, str] | None = None
) -> list[int]:
    """SIGKILL the run at three random steps, then let it finish; returns where it was killed."""
    rng = random.Random(seed)
    kills = sorted(rng.sample(range(2, TOTAL_STEPS - 1), 3))
    for step in kills:
        code = kill_at_step(start(ckpt, out, "--sleep-s", "0.01", env=env), step, signal.SIGKILL)
        assert code == -signal.SIGKILL
    run_to_end(ckpt, out, env=env)
    return kills


@pytest.mark.slow
def test_sigkill_at_random_steps_resumes_bit_identically_local(
    uninterrupted: Path, tmp_path: Path
) -> None:
    out = tmp_path / "params.pt"
    resume_after_kills(str(tmp_path / "ckpt"), out, seed=1)
    assert_same_parameters(uninterrupted, out)


@pytest.mark.slow
def test_sigkill_at_random_steps_resumes_bit_identically_s3(
    uninterrupted: Path, tmp_path: Path, s3_env: dict[str, str], s3_bucket_url: str
) -> None:
    out = tmp_path / "params.pt"
    resume_after_kills(f"{s3_bucket_url}/run", out, seed=2, env=s3_env)
    assert_same_parameters(uninterrupted, out)


@pytest.mark.slow
def test_sigterm_writes_a_final_checkpoint_and_exits_75(
    uninterrupted: Path, tmp_path: Path
) -> None:
    ckpt = tmp_path / "ckpt"
    out = tmp_path / "params.pt"
    # every 1000 steps: only the preemption checkpoint can save the work done
    code = kill_at_step(
        start(str(ckpt), out, "--every", "1000", "--sleep-s", "0.01"), 17, signal.SIGTERM
    )
    assert code == 75
    steps = sorted(p.name for p in ckpt.iterdir() if p.name.startswith("step-"))
    assert steps and int(steps[-1].removeprefix("step-")) >= 17
    run_to_end(str(ckpt), out, "--every", "1000")
    assert_same_parameters(uninterrupted, out)


@pytest.mark.slow
def test_aws_spot_notice_commits_a_final_checkpoint_and_exits_75(
    uninterrupted: Path, tmp_path: Path
) -> None:
    from fake_metadata import FakeMetadataServer

    ckpt = tmp_path / "ckpt"
    out = tmp_path / "params.pt"
    with FakeMetadataServer() as metadata:
        process = start(
            str(ckpt),
            out,
            "--every",
            "1000",
            "--sleep-s",
            "0.02",
            "--cloud",
            "aws",
            "--metadata-url",
            metadata.url,
        )
        assert process.stdout is not None
        for line in process.stdout:
            if line.strip() == "step 12":
                metadata.schedule_aws("terminate", "2026-11-28T17:00:00Z")
                break
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 75, stderr
    assert "aws spot instance-action" in stderr and "terminate" in stderr
    committed = [
        p for p in ckpt.iterdir() if p.name.startswith("step-") and (p / "manifest.json").exists()
    ]
    assert committed, "no committed checkpoint after the notice"
    assert max(int(p.name.removeprefix("step-")) for p in committed) >= 12
    run_to_end(str(ckpt), out, "--every", "1000")
    assert_same_parameters(uninterrupted, out)
