"""Profile: measure a Variant on this machine, or import Profiles measured elsewhere.

Input: Variants (artifacts in the workspace) and the held-out test split of the user's data.
Output: Profiles (latency, throughput, memory, accuracy with confidence, hardware fingerprint).
"""

from __future__ import annotations

from mlcost.profile._measure import Measurement, MeasureSettings, measure, measure_here
from mlcost.profile._profile import (
    HeldOutRows,
    Measured,
    profile_variant,
)
from mlcost.profile._recommend import Verdict, recommend, resolution_note
from mlcost.profile._reuse import (
    INSTANCE_TYPE_ENV,
    import_profiles,
    latest_measured,
    load_profiles,
    measure_variants,
    stored_profile,
    test_rows,
)
from mlcost.profile._stats import (
    Accuracy,
    PairedComparison,
    accuracy_with_ci,
    compare_with_baseline,
    mcnemar_exact_p,
)

__all__ = [
    "INSTANCE_TYPE_ENV",
    "Accuracy",
    "HeldOutRows",
    "MeasureSettings",
    "Measured",
    "Measurement",
    "PairedComparison",
    "Verdict",
    "accuracy_with_ci",
    "compare_with_baseline",
    "import_profiles",
    "latest_measured",
    "load_profiles",
    "mcnemar_exact_p",
    "measure",
    "measure_here",
    "measure_variants",
    "profile_variant",
    "recommend",
    "resolution_note",
    "stored_profile",
    "test_rows",
]
