"""`mlcost train` end to end on a tiny BERT: train, resume, skip corrupt checkpoints, refuse bad input."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tiny_model import build_tiny_bert, write_sentiment_csv

from mlcost.cli import main
from mlcost.core import TrainError
from mlcost.train import TrainConfig, run_training

MLCOST = str(Path(sys.executable).with_name("mlcost"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tiny")
    return build_tiny_bert(folder / "model"), write_sentiment_csv(folder / "data.csv")


def config(tiny: tuple[Path, Path], out: Path, **changes: object) -> TrainConfig:
    model, data = tiny
    base = TrainConfig(
        out_dir=out,
        model=str(model),
        data=str(data),
        epochs=6,
        batch_size=16,
        learning_rate=3e-3,
        checkpoint_every="5",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def mlcost(
    *args: str, home: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "MLCOST_HOME": str(home), **(env or {})}
    return subprocess.run(
        [MLCOST, *args], capture_output=True, text=True, env=full_env, timeout=300, check=False
    )


def test_training_learns_and_writes_model_metrics_and_split(
    tiny: tuple[Path, Path], tmp_path: Path
) -> None:
    result = run_training(config(tiny, tmp_path / "out"))
    assert result.accuracy_test >= 0.9 and result.accuracy_validation >= 0.9
    assert result.label_names == ("negative", "positive")
    assert (result.model_dir / "config.json").is_file() and (
        result.model_dir / "tokenizer.json"
    ).is_file()
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["basis"] == "measured" and metrics["accuracy_test"] == result.accuracy_test
    split = json.loads((tmp_path / "out" / "split.json").read_text())
    assert not set(split["train"]) & set(split["test"])
    assert result.steps == 6 * -(-len(split["train"]) // 16)


def test_a_repeated_run_resumes_at_the_end_and_gives_the_same_model(
    tiny: tuple[Path, Path], tmp_path: Path
) -> None:
    first = run_training(config(tiny, tmp_path / "out"))
    again = run_training(config(tiny, tmp_path / "out"))
    assert again.resumed_from_step == first.steps
    assert again.accuracy_test == first.accuracy_test


def test_a_checkpoint_of_another_recipe_is_refused(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    run_training(config(tiny, tmp_path / "out"))
    with pytest.raises(
        TrainError, match="rerun with the same settings or use a new checkpoint location"
    ):
        run_training(config(tiny, tmp_path / "out", batch_size=8))


def test_preempted_cli_run_exits_75_and_the_same_command_resumes(
    tiny: tuple[Path, Path], tmp_path: Path
) -> None:
    from fake_metadata import FakeMetadataServer

    model, data = tiny
    out = tmp_path / "out"
    args = [
        "train",
        "--model",
        str(model),
        "--data",
        str(data),
        "--out",
        str(out),
        "--epochs",
        "6",
        "--batch-size",
        "16",
        "--lr",
        "3e-3",
        "--checkpoint-every",
        "1000",
        "--json",
    ]
    with FakeMetadataServer() as metadata:
        metadata.schedule_aws("terminate", "2026-11-28T17:00:00Z")
        first = mlcost(
            *args,
            "--preemption-notice",
            "aws",
            "--metadata-url",
            metadata.url,
            home=tmp_path / "ws",
        )
    assert first.returncode == 75, first.stderr
    report = json.loads(first.stdout)
    assert report["attempt"]["status"] == "preempted" and report["attempt"]["final_step"] >= 1
    second = mlcost(*args, home=tmp_path / "ws")
    assert second.returncode == 0, second.stderr
    done = json.loads(second.stdout)
    assert done["result"]["resumed_from_step"] == report["attempt"]["final_step"]
    assert done["result"]["accuracy_test"] >= 0.9
    assert (
        len(json.loads(second.stdout)["result"])
        and done["total_wall_s"] > done["attempt"]["wall_s"]
    )


def test_a_corrupt_newest_checkpoint_is_skipped_with_a_warning(
    tiny: tuple[Path, Path], tmp_path: Path
) -> None:
    model, data = tiny
    out = tmp_path / "out"
    args = [
        "train",
        "--model",
        str(model),
        "--data",
        str(data),
        "--out",
        str(out),
        "--epochs",
        "6",
        "--batch-size",
        "16",
        "--lr",
        "3e-3",
        "--checkpoint-every",
        "3",
    ]
    assert mlcost(*args, home=tmp_path / "ws").returncode == 0
    steps = sorted((out / "checkpoints").glob("step-*"))
    newest = steps[-1] / "model.pt"
    newest.write_bytes(newest.read_bytes()[:100])  # truncated
    rerun = mlcost(*args, home=tmp_path / "ws")
    assert rerun.returncode == 0, rerun.stderr
    assert f"skipping checkpoint {steps[-1]}" in rerun.stderr
    assert f"using {steps[-2].name}" in rerun.stderr


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda m, d, t: ["--data", str(t / "missing.csv")], "missing.csv does not exist"),
        (
            lambda m, d, t: ["--data", str(d), "--label-column", "sentiment"],
            "has no column 'sentiment'; its columns are text, label; pass --label-column",
        ),
        (
            lambda m, d, t: ["--data", str(d), "--model", str(t)],
            "is not a Hugging Face model folder",
        ),
        (lambda m, d, t: ["--data", str(_latin1(t))], "latin1.csv:2: not valid utf-8"),
        (lambda m, d, t: ["--data", str(_one_class(t))], "has only one class"),
        (
            lambda m, d, t: ["--data", str(d), "--freeze-layers", "5"],
            "--freeze-layers 5 but the model has 2 layers",
        ),
        (
            lambda m, d, t: ["--data", str(d), "--checkpoint-every", "often"],
            "checkpoint interval 'often'",
        ),
        (lambda m, d, t: ["--data", str(d), "--checkpoint-url", "s3://"], "checkpoint"),
    ],
)
def test_bad_input_fails_before_training_with_one_line(
    tiny: tuple[Path, Path],
    tmp_path: Path,
    make_args: object,
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    model, data = tiny
    extra = make_args(model, data, tmp_path)  # type: ignore[operator]
    base = [
        "train",
        "--home",
        str(tmp_path / "ws"),
        "--model",
        str(model),
        "--out",
        str(tmp_path / "out"),
    ]
    code = main([*base, *extra])  # in-process: the same entry point as the installed command
    stderr = capsys.readouterr().err
    assert code == 2, stderr
    assert message in stderr
    assert "Traceback" not in stderr
    assert not (tmp_path / "out" / "model").exists()


def _latin1(folder: Path) -> Path:
    path = folder / "latin1.csv"
    path.write_bytes("text,label\ncaf\xe9 good,positive\nbad day,negative\n".encode("latin-1"))
    return path


def _one_class(folder: Path) -> Path:
    path = folder / "one.csv"
    path.write_text("text,label\ngood,positive\nnice,positive\n")
    return path
