"""The teacher-student loss, checked against the formula."""

from __future__ import annotations

import pytest
import torch

from mlcost.train import Distillation


def test_alpha_zero_is_plain_cross_entropy() -> None:
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.2]])
    labels = torch.tensor([0, 1])
    loss = Distillation(torch.randn(4, 2), temperature=3.0, alpha=0.0)
    assert loss(logits, labels, [1, 3]) == pytest.approx(
        float(torch.nn.functional.cross_entropy(logits, labels))
    )


def test_soft_part_is_t_squared_kl_to_the_teacher_rows_named_by_indices() -> None:
    teacher = torch.tensor([[0.0, 0.0], [3.0, -3.0], [1.0, 2.0]])
    student = torch.tensor([[3.0, -3.0], [1.0, 2.0]])
    loss = Distillation(teacher, temperature=2.0, alpha=1.0)
    # Student equals the teacher on rows 1 and 2: nothing to learn.
    assert float(loss(student, torch.tensor([0, 1]), [1, 2])) == pytest.approx(0.0, abs=1e-6)
    t = 2.0
    p = torch.softmax(teacher[[0, 0]] / t, dim=-1)
    q = torch.softmax(student / t, dim=-1)
    expected = t * t * float((p * (p.log() - q.log())).sum(dim=-1).mean())
    assert float(loss(student, torch.tensor([0, 1]), [0, 0])) == pytest.approx(expected, rel=1e-5)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="temperature"):
        Distillation(torch.zeros(1, 2), temperature=0, alpha=0.5)
