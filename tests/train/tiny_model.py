"""A tiny, randomly initialised BERT and a trivially learnable sentiment CSV, built in the test."""

from __future__ import annotations

import csv
import random
from pathlib import Path

POSITIVE = ["good", "great", "happy", "love", "nice", "fun", "best", "cool"]
NEGATIVE = ["bad", "awful", "sad", "hate", "poor", "boring", "worst", "ugly"]
FILLER = ["the", "car", "ride", "was", "really", "today", "my", "this", "a", "so"]


def build_tiny_bert(folder: Path) -> Path:
    """save_pretrained of a 2-layer, 32-wide BERT classifier and its WordPiece tokenizer."""
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *POSITIVE, *NEGATIVE, *FILLER]
    tokenizer = BertTokenizerFast(vocab={word: index for index, word in enumerate(vocab)})
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def write_sentiment_csv(path: Path, rows: int = 240, seed: int = 0) -> Path:
    """Rows sorted by label (as real exports often are), text with one telling word each."""
    rng = random.Random(seed)
    lines = []
    for label, words in (("negative", NEGATIVE), ("positive", POSITIVE)):
        for _ in range(rows // 2):
            text = [
                *rng.sample(FILLER, 4),
                rng.choice(words),
                *rng.sample(FILLER, rng.randint(0, 4)),
            ]
            lines.append({"text": " ".join(text), "label": label})
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "label"])
        writer.writeheader()
        writer.writerows(lines)
    return path


def train_tiny_teacher(root: Path, out_dir: Path | None = None) -> tuple[Path, Path]:
    """(model folder, data CSV) of a tiny BERT fine-tuned by mlcost train into ``out_dir``."""
    from mlcost.train import TrainConfig, run_training

    root.mkdir(parents=True, exist_ok=True)
    data = write_sentiment_csv(root / "data.csv", rows=240)
    result = run_training(
        TrainConfig(
            out_dir=out_dir or root / "run",
            model=str(build_tiny_bert(root / "init")),
            data=str(data),
            epochs=6,
            batch_size=16,
            learning_rate=3e-3,
            checkpoint_every="50",
        )
    )
    return result.model_dir, data
