"""Load a Hugging Face sequence classifier, including one whose matrices were pruned."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlcost.core import require


def load_classifier(model_dir: Path, **from_pretrained: Any) -> Any:
    """The model in ``model_dir``; raises OSError/ValueError like from_pretrained."""
    transformers = require("transformers", extra="train", purpose="loading a model")
    return transformers.AutoModelForSequenceClassification.from_pretrained(
        model_dir, **from_pretrained
    )
