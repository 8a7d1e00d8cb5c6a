"""mlcost: cut what it costs to serve and train ML models, and prove every cut with a measurement."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
