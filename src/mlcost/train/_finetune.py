"""`mlcost train`: fine-tune a Hugging Face sequence classifier with the resilient engine."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.distributed as dist

from mlcost.core import TrainError, require, staged_folder, write_text_atomic
from mlcost.runtime import load_classifier
from mlcost.train._data import (
    BUILTIN_MODEL,
    LabelledData,
    Split,
    builtin_model_dir,
    load_data,
    split_indices,
)
from mlcost.train._distributed import process_group
from mlcost.train._engine import ResilientTrainer, Step
from mlcost.train._interval import CheckpointPolicy
from mlcost.train._order import epoch_batches
from mlcost.train._preemption import PreemptionWatcher

TokenIds = list[list[int]]


class Loss(Protocol):
    """What a training step minimises; cross-entropy now, teacher-student KL for distillation."""

    def __call__(
        self, logits: torch.Tensor, labels: torch.Tensor, indices: Sequence[int]
    ) -> torch.Tensor: ...


class CrossEntropy:
    """Plain cross-entropy against the labels."""

    def __call__(
        self, logits: torch.Tensor, labels: torch.Tensor, indices: Sequence[int]
    ) -> torch.Tensor:
        return torch.nn.functional.cross_entropy(logits, labels)


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """Everything `mlcost train` takes; defaults are what an experienced user would pick."""

    out_dir: Path
    model: str = BUILTIN_MODEL
    data: str = "builtin:sentiment"
    checkpoint_url: str | None = None
    text_column: str = "text"
    label_column: str = "label"
    encoding: str = "utf-8"
    epochs: int = 1
    batch_size: int = 32
    learning_rate: float = 5e-5
    warmup_fraction: float = 0.06
    weight_decay: float = 0.01
    max_length: int | None = None
    max_train_samples: int | None = None
    freeze_layers: int = 0
    freeze_embeddings: bool = False  # implied by freeze_layers > 0
    seed: int = 42
    checkpoint_every: str = "auto"
    interruptions_per_hour: float = 0.0  # 0: on-demand; auto then checkpoints at its 30-minute cap
    preemption_cloud: str | None = None
    metadata_url: str | None = None
    keep_last: int = 3

    @classmethod
    def demo(cls, out_dir: Path) -> TrainConfig:
        """The built-in demo teacher: MiniLM on the tweet corpus, sized for a few minutes on 2 cores.

        A seeded sample of 4,000 training tweets, the embeddings and the first
        3 of 6 encoder layers frozen (so a step updates half the model), a
        higher learning rate to match; the token limit is fitted to the data.
        """
        return cls(out_dir=out_dir, max_train_samples=4000, freeze_layers=3, learning_rate=2e-4)

    @property
    def checkpoint_location(self) -> str:
        return self.checkpoint_url or str(self.out_dir / "checkpoints")


@dataclass(frozen=True, slots=True)
class TrainResult:
    """What a finished run produced and measured (on this machine)."""

    model_dir: Path
    label_names: tuple[str, ...]
    accuracy_validation: float
    accuracy_test: float
    train_samples: int
    test_samples: int
    steps: int
    max_length: int
    resumed_from_step: int
    wall_s: float
    step_s_mean: float
    checkpoint_write_s_mean: float
    checkpoints_written: int
    metrics: dict[str, Any] = field(default_factory=dict)


def resolve_model_dir(model: str) -> Path:
    """The folder of a Hugging Face model: ``builtin:minilm`` or a local path (no hub downloads)."""
    if model == BUILTIN_MODEL:
        return builtin_model_dir()
    if model.startswith("builtin:"):
        raise TrainError(f"unknown built-in model {model!r}; use {BUILTIN_MODEL} or a model folder")
    path = Path(model)
    if not (path / "config.json").is_file():
        raise TrainError(
            f"{model} is not a Hugging Face model folder (no config.json); pass a folder saved with save_pretrained"
        )
    return path


def _fingerprint(config: TrainConfig, data: LabelledData, model_dir: Path) -> str:
    """Identifies the run: a checkpoint of another model, data or recipe must not be resumed."""
    digest = hashlib.sha256()
    for part in (
        str(model_dir.resolve()),
        data.source,
        str(len(data)),
        ",".join(data.label_names),
        repr(
            (
                config.learning_rate,
                config.max_length,
                config.max_train_samples,
                config.freeze_layers,
                config.freeze_embeddings,
            )
        ),
        repr((config.epochs, config.warmup_fraction, config.weight_decay)),
    ):
        digest.update(part.encode())
    return digest.hexdigest()[:16]


def _tokenize(tokenizer: Any, texts: Sequence[str], max_length: int) -> TokenIds:
    encoded = tokenizer(list(texts), truncation=True, max_length=max_length, padding=False)
    return [list(ids) for ids in encoded["input_ids"]]


def fit_max_length(
    tokenizer: Any, texts: Sequence[str], *, quantile: float = 0.99, limit: int = 512
) -> int:
    """The token length that covers ``quantile`` of the texts, rounded up to a multiple of 8."""
    lengths = sorted(
        len(ids) for ids in tokenizer(list(texts), truncation=True, max_length=limit)["input_ids"]
    )
    if not lengths:
        return 8
    covered = lengths[min(len(lengths) - 1, int(quantile * len(lengths)))]
    return min(limit, max(8, -(-covered // 8) * 8))


def collate(
    token_ids: TokenIds,
    indices: Sequence[int],
    pad_id: int,
    device: torch.device | None = None,
) -> dict[str, torch.Tensor]:
    """A batch padded to its own longest sequence (dynamic padding), on ``device`` if given."""
    longest = max(len(token_ids[i]) for i in indices)
    ids = torch.full((len(indices), longest), pad_id, dtype=torch.long)
    mask = torch.zeros((len(indices), longest), dtype=torch.long)
    for row, index in enumerate(indices):
        sequence = token_ids[index]
        ids[row, : len(sequence)] = torch.tensor(sequence, dtype=torch.long)
        mask[row, : len(sequence)] = 1
    if device is not None:
        ids, mask = ids.to(device), mask.to(device)
    return {"input_ids": ids, "attention_mask": mask}


@torch.no_grad()
def predict(
    model: torch.nn.Module, token_ids: TokenIds, pad_id: int, *, batch_size: int = 64
) -> list[int]:
    """Predicted class of every sequence; batches are length-sorted so little padding is computed."""
    model.eval()
    device = next(model.parameters()).device
    order = sorted(range(len(token_ids)), key=lambda i: len(token_ids[i]))
    predictions = [0] * len(token_ids)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        logits = model(**collate(token_ids, chunk, pad_id, device)).logits
        for index, label in zip(chunk, logits.argmax(dim=-1).tolist(), strict=True):
            predictions[index] = int(label)
    return predictions


def accuracy(predictions: Sequence[int], labels: Sequence[int]) -> float:
    return sum(p == y for p, y in zip(predictions, labels, strict=True)) / max(1, len(labels))


def _freeze(model: torch.nn.Module, layers: int, *, embeddings: bool = False) -> None:
    """Freeze the embeddings and the first ``layers`` encoder layers (0 = train everything).

    ``embeddings`` freezes the embeddings alone: a distillation fine-tune then
    skips the gradient and AdamW update of the largest matrix, the vocabulary.
    """
    if layers <= 0 and not embeddings:
        return
    prefix = getattr(model, "base_model_prefix", None)
    base = getattr(model, str(prefix)) if prefix and hasattr(model, str(prefix)) else model
    encoder_layers = getattr(getattr(base, "encoder", None), "layer", None)
    embedding_module = getattr(base, "embeddings", None)
    if encoder_layers is None or embedding_module is None:
        raise TrainError("--freeze-layers works on BERT-style encoders only; use --freeze-layers 0")
    if layers > len(encoder_layers):
        raise TrainError(f"--freeze-layers {layers} but the model has {len(encoder_layers)} layers")
    for module in (embedding_module, *encoder_layers[:layers]):
        for parameter in module.parameters():
            parameter.requires_grad_(False)


def _save_model_atomically(model: Any, tokenizer: Any, target: Path) -> None:
    """save_pretrained into a staging folder swapped into place: never a half-written model."""
    with staged_folder(target) as staging:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)


StepCallback = Callable[[Step, float, int], None]


@dataclass
class FineTuning:
    """A prepared fine-tuning run: the objects one training step touches.

    Built by ``prepare``; ``run_training`` loops over it, and the checkpoint
    benchmark times the very same step. ``model`` is the classifier itself (what
    is evaluated and saved); ``parallel_model`` is what a step runs: the same
    model in DistributedDataParallel under torchrun, so gradients are averaged
    over every rank, else the model.
    """

    config: TrainConfig
    data: LabelledData
    split: Split
    train_indices: list[int]
    tokenizer: Any
    model: torch.nn.Module
    parallel_model: torch.nn.Module
    device: torch.device
    optimizer: torch.optim.Optimizer
    scheduler: Any
    trainer: ResilientTrainer
    train_ids: TokenIds
    train_labels: torch.Tensor
    pad_id: int
    max_length: int
    total_steps: int

    def train_step(self, indices: Sequence[int], loss: Loss) -> float:
        """One optimizer step on the training rows ``indices``; returns the loss."""
        batch = collate(self.train_ids, indices, self.pad_id, self.device)
        logits = self.parallel_model(**batch).logits
        value = loss(logits, self.train_labels[list(indices)].to(self.device), indices)
        value.backward()  # type: ignore[no-untyped-call]
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return float(value.detach())


def prepare(
    config: TrainConfig,
    *,
    watcher: PreemptionWatcher | None = None,
    device: torch.device | None = None,
) -> FineTuning:
    """Load data and model, split, tokenize, and build optimizer, schedule and trainer.

    The model goes to ``device`` (default: the CPU). In an initialised process
    group of several ranks it is wrapped in DistributedDataParallel, and the
    schedule counts this rank's steps (each rank trains its shard of every epoch).
    Raises TrainError for bad data, model or settings, before any training.
    """
    device = device or torch.device("cpu")
    transformers = require("transformers", extra="train", purpose="mlcost train")
    # mlcost prints its own progress and report; transformers' load reports and bars are noise here.
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    model_dir = resolve_model_dir(config.model)
    data = load_data(
        config.data,
        text_column=config.text_column,
        label_column=config.label_column,
        encoding=config.encoding,
    )
    policy = CheckpointPolicy.parse(
        config.checkpoint_every, interruptions_per_hour=config.interruptions_per_hour
    )
    split = _load_or_make_split(config, data)
    train_indices = list(split.train)
    if config.max_train_samples is not None and config.max_train_samples < len(train_indices):
        # A seeded sample, not a prefix: files are often sorted by label.
        train_indices = sorted(
            random.Random(config.seed).sample(train_indices, config.max_train_samples)
        )
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
    train_texts = [data.texts[i] for i in train_indices]
    max_length = config.max_length or fit_max_length(tokenizer, train_texts)
    torch.manual_seed(config.seed)  # the classifier head's initial weights
    model = _load_classifier(model_dir, data.label_names).to(device)
    _freeze(model, config.freeze_layers, embeddings=config.freeze_embeddings)
    parallel_model = _parallel(model, device)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        trainable, lr=config.learning_rate, weight_decay=config.weight_decay
    )
    rank, world_size = (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)
    steps_per_epoch = len(
        epoch_batches(
            config.seed, 0, len(train_indices), config.batch_size, rank=rank, world_size=world_size
        )
    )
    total_steps = steps_per_epoch * config.epochs
    scheduler = transformers.get_linear_schedule_with_warmup(
        optimizer, int(config.warmup_fraction * total_steps), total_steps
    )
    trainer = ResilientTrainer(
        parallel_model,
        optimizer,
        scheduler=scheduler,
        checkpoint_url=config.checkpoint_location,
        seed=config.seed,
        policy=policy,
        watcher=watcher,
        keep_last=config.keep_last,
        fingerprint=_fingerprint(config, data, model_dir),
    )
    return FineTuning(
        config=config,
        data=data,
        split=split,
        train_indices=train_indices,
        tokenizer=tokenizer,
        model=model,
        parallel_model=parallel_model,
        device=device,
        optimizer=optimizer,
        scheduler=scheduler,
        trainer=trainer,
        train_ids=_tokenize(tokenizer, train_texts, max_length),
        train_labels=torch.tensor([data.labels[i] for i in train_indices], dtype=torch.long),
        pad_id=int(tokenizer.pad_token_id or 0),
        max_length=max_length,
        total_steps=total_steps,
    )


LossFactory = Callable[["FineTuning"], Loss]


def run_training(
    config: TrainConfig,
    *,
    make_loss: LossFactory | None = None,
    on_step: StepCallback | None = None,
    watcher: PreemptionWatcher | None = None,
) -> TrainResult:
    """Fine-tune, checkpointing as it goes; evaluate on the held-out splits; save the model.

    Re-running with the same config after a kill resumes from the newest
    checkpoint that verifies. Under torchrun every rank calls it: it joins the
    process group, each rank trains its shard, and rank 0 alone writes the
    model, the metrics and the shared checkpoint state. Raises TrainError for
    bad data, model or settings (before any training), and Preempted on a
    preemption notice (on every rank, at the same step). ``make_loss`` builds
    the loss from the prepared run (distillation needs its tokenized rows for
    the teacher's logits); cross-entropy by default.
    """
    started = time.perf_counter()
    with process_group() as device:
        run = prepare(config, watcher=watcher, device=device)
        loss_fn = make_loss(run) if make_loss is not None else CrossEntropy()
        resumed = run.trainer.resume().global_step
        step_seconds: list[float] = []
        run.parallel_model.train()
        for step in run.trainer.steps(
            num_epochs=config.epochs,
            num_samples=len(run.train_indices),
            batch_size=config.batch_size,
        ):
            step_started = time.perf_counter()
            value = run.train_step(step.indices, loss_fn)
            step_seconds.append(time.perf_counter() - step_started)
            if on_step is not None:
                on_step(step, value, run.total_steps)
        return _finish(run, resumed, started, step_seconds)


def _parallel(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``model`` in DistributedDataParallel when this process is one rank of several."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)


def _load_classifier(model_dir: Path, label_names: tuple[str, ...]) -> Any:
    try:
        return load_classifier(
            model_dir,
            num_labels=len(label_names),
            id2label=dict(enumerate(label_names)),
            label2id={name: i for i, name in enumerate(label_names)},
            ignore_mismatched_sizes=True,
        )
    except (OSError, ValueError) as exc:
        raise TrainError(f"cannot load a sequence classifier from {model_dir}: {exc}") from exc


def _load_or_make_split(config: TrainConfig, data: LabelledData) -> Split:
    """The split kept with the run, so a resumed or repeated run uses the same rows."""
    path = config.out_dir / "split.json"
    if path.is_file():
        split = Split.from_json(path.read_text())
        if split.seed == config.seed and max((*split.train, *split.validation, *split.test)) < len(
            data
        ):
            return split
    split = split_indices(data.labels, seed=config.seed)
    write_text_atomic(path, split.to_json())
    return split


def _finish(
    run: FineTuning,
    resumed: int,
    started: float,
    step_seconds: list[float],
) -> TrainResult:
    config, data, split, tokenizer, model = (
        run.config,
        run.data,
        run.split,
        run.tokenizer,
        run.model,
    )
    max_length, pad_id, trainer = run.max_length, run.pad_id, run.trainer
    validation = data.subset(split.validation)
    test = data.subset(split.test)
    accuracy_validation = accuracy(
        predict(model, _tokenize(tokenizer, validation.texts, max_length), pad_id),
        validation.labels,
    )
    accuracy_test = accuracy(
        predict(model, _tokenize(tokenizer, test.texts, max_length), pad_id), test.labels
    )
    model_dir = config.out_dir / "model"
    is_writer = trainer.rank == 0  # every rank holds the same weights: one writes them
    if is_writer:
        _save_model_atomically(model, tokenizer, model_dir)
    writes = trainer.checkpoint_write_s
    result = TrainResult(
        model_dir=model_dir,
        label_names=data.label_names,
        accuracy_validation=accuracy_validation,
        accuracy_test=accuracy_test,
        train_samples=len(run.train_indices),
        test_samples=len(test),
        steps=trainer.progress.global_step,
        max_length=max_length,
        resumed_from_step=resumed,
        wall_s=time.perf_counter() - started,
        step_s_mean=sum(step_seconds) / len(step_seconds) if step_seconds else 0.0,
        checkpoint_write_s_mean=sum(writes) / len(writes) if writes else 0.0,
        checkpoints_written=len(writes),
    )
    metrics = {
        "basis": "measured",
        "data": data.source,
        "labels": list(data.label_names),
        "accuracy_validation": accuracy_validation,
        "accuracy_test": accuracy_test,
        "test_samples": len(test),
        "train_samples": len(run.train_indices),
        "steps": result.steps,
        "world_size": trainer.world_size,
        "max_length": max_length,
        "config": {k: str(v) for k, v in dataclasses.asdict(config).items()},
    }
    if is_writer:
        write_text_atomic(config.out_dir / "metrics.json", json.dumps(metrics, indent=2))
    return result
