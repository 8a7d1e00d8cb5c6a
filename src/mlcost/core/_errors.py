"""Every error mlcost raises on purpose.

    MlcostError                  root: the CLI prints its message on one line, exit code 2
    ├── UsageError               a flag, option or argument the user gave is wrong
    ├── MissingDependencyError   an optional extra is not installed (message has the pip line)
    ├── StoreError               the workspace store cannot be opened, migrated or written
    ├── CatalogError             a price catalog file or row is invalid
    │   └── CatalogImportError   an imported price file is malformed (nothing was written)
    ├── CostError                cost arithmetic got impossible inputs
    ├── TrainError               training data, model or checkpoints are unusable
    ├── CompressError            a model cannot be exported, optimized or quantized
    ├── ProfileError             a variant cannot be measured, or a profile file is invalid
    ├── PlanError                a workload file is invalid, or no plan can meet it
    ├── ServeError               a serve.yaml or calibration is invalid, or a tier cannot load
    ├── DeployError              a plan cannot be rendered, or a rendered object is invalid
    ├── BillingError             a billing export or request-count file cannot be read
    └── PrometheusError          Prometheus cannot be reached or rejected a query

Each message says what failed, why, and what to do about it.
"""

from __future__ import annotations


class MlcostError(Exception):
    """Root of every error mlcost raises deliberately."""


class UsageError(MlcostError):
    """A command-line flag, option or argument is wrong."""


class MissingDependencyError(MlcostError):
    """An optional dependency is not installed; the message names the extra to install."""


class StoreError(MlcostError):
    """The workspace store cannot be opened, migrated or written."""


class CatalogError(MlcostError):
    """A price catalog file or row is invalid."""


class CatalogImportError(CatalogError):
    """An imported price file is malformed; the catalog was left unchanged."""


class CostError(MlcostError):
    """Cost arithmetic was given impossible inputs (negative hours, zero throughput, ...)."""


class TrainError(MlcostError):
    """Training cannot run: bad data or model, unreachable or unusable checkpoint storage."""


class CompressError(MlcostError):
    """A model cannot be exported, optimized or quantized, or a variant disagrees with its parent."""


class ProfileError(MlcostError):
    """A variant cannot be measured, or an imported profile is invalid."""


class PlanError(MlcostError):
    """A workload file or trace is invalid (the message has FILE:LINE), or no plan meets it."""


class ServeError(MlcostError):
    """A serve.yaml or calibration is invalid (FILE:LINE), or a tier cannot be loaded or served."""


class DeployError(MlcostError):
    """A plan cannot be rendered for its platform, or a rendered object fails its schema."""


class BillingError(MlcostError):
    """A billing export is not FOCUS, or a request-count file is malformed (FILE:LINE)."""


class PrometheusError(MlcostError):
    """Prometheus cannot be reached, does not answer as Prometheus, or rejected a query."""
