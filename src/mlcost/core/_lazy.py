"""Import optional heavy dependencies only when a command needs them."""

from __future__ import annotations

import importlib
from types import ModuleType

from mlcost.core._errors import MissingDependencyError


def require(module: str, *, extra: str, purpose: str) -> ModuleType:
    """Import ``module`` or explain which mlcost extra brings it.

    Returns the imported module. Raises MissingDependencyError with the pip
    command to run when it is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        raise MissingDependencyError(
            f"{top} is needed for {purpose} but is not installed; "
            f"install it with: pip install 'mlcost[{extra}]'"
        ) from exc
