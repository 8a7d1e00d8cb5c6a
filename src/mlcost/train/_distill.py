"""Teacher-student distillation as a Loss for the resilient engine (Hinton et al., 2015)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from mlcost.runtime import load_classifier
from mlcost.train._finetune import FineTuning, LossFactory, collate


class Distillation:
    """alpha * T^2 * KL(teacher || student at temperature T) + (1 - alpha) * cross-entropy.

    ``teacher_logits`` holds one row per training row of the run, in the run's
    order; the T^2 factor keeps the soft-target gradients on the scale of the
    hard-label ones (Hinton et al., 2015, section 2).
    """

    def __init__(self, teacher_logits: torch.Tensor, *, temperature: float, alpha: float) -> None:
        if temperature <= 0 or not 0 <= alpha <= 1:
            raise ValueError("distillation needs temperature > 0 and 0 <= alpha <= 1")
        self.teacher_logits = teacher_logits
        self.temperature = temperature
        self.alpha = alpha

    def __call__(
        self, logits: torch.Tensor, labels: torch.Tensor, indices: Sequence[int]
    ) -> torch.Tensor:
        t = self.temperature
        teacher = self.teacher_logits[list(indices)].to(logits.device)  # kept on the CPU
        soft_teacher = torch.log_softmax(teacher / t, dim=-1)
        soft_student = torch.log_softmax(logits / t, dim=-1)
        kl = torch.nn.functional.kl_div(
            soft_student, soft_teacher, reduction="batchmean", log_target=True
        )
        hard = torch.nn.functional.cross_entropy(logits, labels)
        return self.alpha * t * t * kl + (1 - self.alpha) * hard


@torch.no_grad()
def teacher_logits(teacher_dir: Path, run: FineTuning, *, batch_size: int = 64) -> torch.Tensor:
    """The teacher's logits on every training row of ``run`` (length-sorted batches)."""
    teacher = load_classifier(teacher_dir).eval()
    ids = run.train_ids
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out = torch.zeros((len(ids), int(teacher.config.num_labels)))
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        out[chunk] = teacher(**collate(ids, chunk, run.pad_id)).logits.float()
    return out


def distillation_from(
    teacher_dir: Path, *, temperature: float = 2.0, alpha: float = 0.5
) -> LossFactory:
    """A ``make_loss`` for run_training: the teacher's logits on the run's rows, then Distillation."""

    def make(run: FineTuning) -> Distillation:
        return Distillation(teacher_logits(teacher_dir, run), temperature=temperature, alpha=alpha)

    return make
