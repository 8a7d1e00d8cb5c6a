"""A calibration file as `mlcost cascade calibrate` writes it, with the figures a test wants."""

from __future__ import annotations

import json
from pathlib import Path

from mlcost.serve import Calibration, Choice, threshold_record


def write_calibration(path: Path, *, threshold: float, escalation_rate: float, rows: int) -> Path:
    """``path`` holding one guarantee choice at ``threshold`` that escalated ``escalation_rate``
    of ``rows`` test rows, through serve's own writer."""
    choice = Choice(
        "guarantee", "LTT", threshold, 0.87, (0.85, 0.89), 0.1, escalation_rate, None, "loss"
    )
    result = Calibration((choice,), "max_probability", 1.0, rows, rows, 0.87, None)
    record = threshold_record(
        result, "guarantee", {"split": "validation", "count": rows}, ["student", "teacher"]
    )
    path.write_text(json.dumps(record), encoding="utf-8")
    return path
