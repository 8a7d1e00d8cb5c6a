"""The accelerators mlcost knows, and how provider spellings map onto them."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AcceleratorSpec:
    """A known accelerator: canonical name, family for filtering, memory per device, peak speed.

    Peaks are dense (without structured sparsity), from the vendor's datasheet
    named in ``peak_source``.
    """

    name: str
    family: str
    vendor: str
    memory_gib: float
    kind: str  # "gpu", "inferentia", "trainium", "tpu"
    fp32_tflops: float | None = None
    fp16_tensor_tflops: float | None = None
    int8_tensor_tops: float | None = None
    peak_source: str = ""

    def peak_tflops(self, precision: str) -> float | None:
        """Dense peak (no sparsity) at a variant's precision: fp32 on CUDA cores, fp16 and int8
        on tensor cores; None where the datasheet gives none."""
        return {
            "fp32": self.fp32_tflops,
            "fp16": self.fp16_tensor_tflops,
            "int8": self.int8_tensor_tops,
        }.get(precision)


_T4 = "https://www.nvidia.com/en-us/data-center/tesla-t4/"
_A10G = "https://www.baseten.co/blog/nvidia-a10-vs-a10g-for-ml-model-inference/ (A10G: AWS-only variant, no NVIDIA datasheet)"
_A10 = "https://www.nvidia.com/en-us/data-center/products/a10-gpu/"
_L4 = "https://www.nvidia.com/en-us/data-center/l4/"
_L40S = "https://www.nvidia.com/en-us/data-center/l40s/"
_V100 = "https://images.nvidia.com/content/technologies/volta/pdf/volta-v100-datasheet-update-us-1165301-r5.pdf (SXM2; no int8 tensor cores)"
_A100 = "https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/a100/pdf/nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf"
_H100 = "https://www.nvidia.com/en-us/data-center/h100/ (SXM)"

KNOWN_ACCELERATORS: dict[str, AcceleratorSpec] = {
    spec.name: spec
    for spec in (
        AcceleratorSpec("T4", "T4", "NVIDIA", 16.0, "gpu", 8.1, 65.0, 130.0, _T4),
        AcceleratorSpec("A10G", "A10G", "NVIDIA", 24.0, "gpu", 31.5, 70.0, 140.0, _A10G),
        AcceleratorSpec("A10", "A10", "NVIDIA", 24.0, "gpu", 31.2, 125.0, 250.0, _A10),
        AcceleratorSpec("L4", "L4", "NVIDIA", 24.0, "gpu", 30.3, 121.0, 242.0, _L4),
        AcceleratorSpec("L40S", "L40S", "NVIDIA", 48.0, "gpu", 91.6, 362.0, 733.0, _L40S),
        AcceleratorSpec("V100", "V100", "NVIDIA", 16.0, "gpu", 15.7, 125.0, None, _V100),
        AcceleratorSpec("V100-32GB", "V100", "NVIDIA", 32.0, "gpu", 15.7, 125.0, None, _V100),
        AcceleratorSpec("A100-40GB", "A100", "NVIDIA", 40.0, "gpu", 19.5, 312.0, 624.0, _A100),
        AcceleratorSpec("A100-80GB", "A100", "NVIDIA", 80.0, "gpu", 19.5, 312.0, 624.0, _A100),
        AcceleratorSpec("H100", "H100", "NVIDIA", 80.0, "gpu", 67.0, 989.0, 1979.0, _H100),
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
