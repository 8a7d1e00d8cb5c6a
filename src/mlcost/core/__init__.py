"""Core: the values every stage passes on, errors, the workspace and its store.

Input: nothing of mlcost (this package imports no other mlcost package).
Output: Offer and the other price values, MlcostError and its tree, Workspace, Store.
"""

from __future__ import annotations

from mlcost.core._atomic import write_bytes_atomic, write_text_atomic
from mlcost.core._codec import from_jsonable, to_jsonable
from mlcost.core._errors import (
    CatalogError,
    CatalogImportError,
    CompressError,
    CostError,
    MissingDependencyError,
    MlcostError,
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
from mlcost.core._workspace import Workspace

__all__ = [
    "ARCHES",
    "INTERRUPTION_BUCKETS",
    "PROVIDERS",
    "Basis",
    "CatalogError",
    "CatalogImportError",
    "Commitment",
    "CompressError",
    "CostError",
    "Hardware",
    "ImportRecord",
    "MissingDependencyError",
    "MlcostError",
    "Offer",
    "PriceOrigin",
    "PriceOverride",
    "Pricing",
    "Profile",
    "ProfileError",
    "ServerlessPrice",
    "StoragePrice",
    "Store",
    "StoreError",
    "TrainError",
    "TrainRun",
    "TransferPrice",
    "UsageError",
    "Variant",
    "Workspace",
    "from_jsonable",
    "hardware_key",
    "require",
    "to_jsonable",
    "write_bytes_atomic",
    "write_text_atomic",
]
