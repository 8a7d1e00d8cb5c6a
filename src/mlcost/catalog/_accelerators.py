"""The accelerators mlcost knows, and how provider spellings map onto them."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AcceleratorSpec:
    """A known accelerator: canonical name, family for filtering, memory per device."""

    name: str
    family: str
    vendor: str
    memory_gib: float
    kind: str  # "gpu", "inferentia", "trainium", "tpu"


KNOWN_ACCELERATORS: dict[str, AcceleratorSpec] = {
    spec.name: spec
    for spec in (
        AcceleratorSpec("T4", "T4", "NVIDIA", 16.0, "gpu"),
        AcceleratorSpec("A10G", "A10G", "NVIDIA", 24.0, "gpu"),
        AcceleratorSpec("A10", "A10", "NVIDIA", 24.0, "gpu"),
        AcceleratorSpec("L4", "L4", "NVIDIA", 24.0, "gpu"),
        AcceleratorSpec("L40S", "L40S", "NVIDIA", 48.0, "gpu"),
        AcceleratorSpec("V100", "V100", "NVIDIA", 16.0, "gpu"),
        AcceleratorSpec("V100-32GB", "V100", "NVIDIA", 32.0, "gpu"),
        AcceleratorSpec("A100-40GB", "A100", "NVIDIA", 40.0, "gpu"),
        AcceleratorSpec("A100-80GB", "A100", "NVIDIA", 80.0, "gpu"),
        AcceleratorSpec("H100", "H100", "NVIDIA", 80.0, "gpu"),
        AcceleratorSpec("Inferentia", "Inferentia", "AWS", 8.0, "inferentia"),
        AcceleratorSpec("Inferentia2", "Inferentia2", "AWS", 32.0, "inferentia"),
        AcceleratorSpec("Trainium", "Trainium", "AWS", 32.0, "trainium"),
        AcceleratorSpec("TPU-v5e", "TPU-v5e", "Google", 16.0, "tpu"),
    )
}

# Spellings seen in provider catalogs (lower-cased, vendor words removed) -> canonical.
_ALIASES: dict[str, str] = {
    "a10g": "A10G",
    "a10": "A10",
    "t4": "T4",
    "tesla t4": "T4",
    "l4": "L4",
    "l40s": "L40S",
    "v100": "V100",
    "v100 16gb": "V100",
    "v100 32gb": "V100-32GB",
    "v100-32gb": "V100-32GB",
    "a100": "A100-40GB",
    "a100 40gb": "A100-40GB",
    "a100-40gb": "A100-40GB",
    "a100 80gb": "A100-80GB",
    "a100-80gb": "A100-80GB",
    "h100": "H100",
    "h100 80gb": "H100",
    "h100-80gb": "H100",
    "inferentia": "Inferentia",
    "inferentia2": "Inferentia2",
    "trainium": "Trainium",
    "trainium1": "Trainium",
    "tpu v5e": "TPU-v5e",
    "tpu-v5e": "TPU-v5e",
    "tpu v5 lite": "TPU-v5e",
    "tpu-v5-lite": "TPU-v5e",
    "tpu-v5litepod": "TPU-v5e",
}

_VENDOR_WORDS = re.compile(r"\b(nvidia|tesla|aws|amazon|google|cloud)\b[- ]?")


def canonical_accelerator(raw: str) -> str | None:
    """The canonical name for a provider's spelling ("NVIDIA A100 40GB" -> "A100-40GB").

    Returns None when the accelerator is unknown.
    """
    text = re.sub(r"\(.*?\)", "", raw).strip().lower()
    text = text.replace("_", " ").replace("nvidia-tesla-", "").replace("nvidia-", "")
    text = _VENDOR_WORDS.sub("", text).strip()
    text = re.sub(r"\s+", " ", text)
    if text in _ALIASES:
        return _ALIASES[text]
    for spec in KNOWN_ACCELERATORS.values():
        if text == spec.name.lower():
            return spec.name
    return None


def matches_accelerator(query: str, name: str | None) -> bool:
    """Whether a filter like "A100" or "a100-80gb" selects the accelerator ``name``."""
    if name is None:
        return False
    spec = KNOWN_ACCELERATORS.get(name)
    wanted = query.strip().lower()
    if wanted in (name.lower(), spec.family.lower() if spec else ""):
        return True
    canonical = canonical_accelerator(query)
    return canonical == name
