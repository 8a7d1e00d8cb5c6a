"""`python -m mlcost` runs the CLI."""

from __future__ import annotations

import sys

from mlcost.cli import main

sys.exit(main())
