"""Core: the values every stage passes on, errors, the workspace and its store.

Input: nothing of mlcost (this package imports no other mlcost package).
Output: Offer and the other price values, the Workload, MlcostError and its tree,
Workspace, Store.
"""

from __future__ import annotations

from mlcost.core._atomic import staged_folder, write_bytes_atomic, write_text_atomic
from mlcost.core._codec import from_jsonable, to_jsonable
from mlcost.core._errors import (
    CatalogError,
    CatalogImportError,
    CompressError,
    CostError,
    MissingDependencyError,
    MlcostError,
    PlanError,
    ProfileError,
    StoreError,
    TrainError,
    UsageError,
)
from mlcost.core._lazy import require
from mlcost.core._store import ImportRecord, Store, hardware_key
from mlcost.core._values import (
    ARCHES,
    INTERRUPTION_BUCKETS,
    PROVIDERS,
    Basis,
    Commitment,
    Hardware,
    Offer,
    PriceOrigin,
    PriceOverride,
    Pricing,
    Profile,
    ServerlessPrice,
    StoragePrice,
    TrainRun,
    TransferPrice,
    Variant,
)
from mlcost.core._workload import (
    DAILY_SHAPES,
    Constraints,
    CurrentSetup,
    DailyShape,
    DataLocation,
    Provider,
    Slo,
    Traffic,
    WeeklyPattern,
    Workload,
)
from mlcost.core._workspace import Workspace

__all__ = [
    "ARCHES",
    "DAILY_SHAPES",
    "INTERRUPTION_BUCKETS",
    "PROVIDERS",
    "Basis",
    "CatalogError",
    "CatalogImportError",
    "Commitment",
    "CompressError",
    "Constraints",
    "CostError",
    "CurrentSetup",
    "DailyShape",
    "DataLocation",
    "Hardware",
    "ImportRecord",
    "MissingDependencyError",
    "MlcostError",
    "Offer",
    "PlanError",
    "PriceOrigin",
    "PriceOverride",
    "Pricing",
    "Profile",
    "ProfileError",
    "Provider",
    "ServerlessPrice",
    "Slo",
    "StoragePrice",
    "Store",
    "StoreError",
    "Traffic",
    "TrainError",
    "TrainRun",
    "TransferPrice",
    "UsageError",
    "Variant",
    "WeeklyPattern",
    "Workload",
    "Workspace",
    "from_jsonable",
    "hardware_key",
    "require",
    "staged_folder",
    "to_jsonable",
    "write_bytes_atomic",
    "write_text_atomic",
]
