"""What every peer's quantize script needs, standard library only (each runs in its own venv).

Importing it puts the process offline (local folders only, never the Hub, no telemetry);
``stdout_to_stderr`` keeps stdout for the script's one JSON line.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

# Local folders only: never reach for the Hub, whatever the caller's environment says.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OPENVINO_TELEMETRY_OPT_OUT", "1")  # no usage reporting from a benchmark


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send fd 1 (Python prints and native libraries alike) to stderr while working."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
