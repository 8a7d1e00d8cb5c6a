"""Profile: measure a Variant on this machine, or import Profiles measured elsewhere.

Input: Variants (artifacts in the workspace) and the held-out test split of the user's data.
Output: Profiles (latency, throughput, memory, accuracy with confidence, hardware fingerprint).
"""

from __future__ import annotations

__all__: list[str] = []
