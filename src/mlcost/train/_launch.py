"""`mlcost torchrun`: torchrun, with a preempted worker's exit code 75 kept.

torchrun's elastic agent exits 1 whatever its workers exited with: a worker
that stops preempted (75) fails the group (ChildFailedError), and a SIGTERM to
the agent itself ends in SignalException. An orchestrator that restarts on 75
(a Kubernetes podFailurePolicy rule, a Slurm requeue) would never see it. This
runs torchrun as a child, hands it the termination signals it gets (a pod's
SIGTERM reaches PID 1 only), and exits 75 when a worker left the preempted
marker, which the engine writes as it raises Preempted.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Final

from mlcost.train._preemption import EXIT_PREEMPTED, PREEMPTED_MARKER_ENV

TORCHRUN: Final = (sys.executable, "-m", "torch.distributed.run")
_FORWARDED: Final = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def run_torchrun(args: Sequence[str], *, command: Sequence[str] = TORCHRUN) -> int:
    """Run ``command`` (torchrun) with ``args`` to its end and return the exit code to report.

    75 when any worker it started exited preempted (after its final checkpoint),
    else torchrun's own code (128 + N when it died of signal N, as a shell says).
    Must be called from the main thread: it forwards SIGTERM, SIGINT and SIGHUP.
    """
    with tempfile.TemporaryDirectory(prefix="mlcost-torchrun-") as folder:
        marker = Path(folder) / "preempted"
        # A session of its own, so a terminal's Ctrl-C reaches torchrun once: through us.
        process = subprocess.Popen(
            [*command, *args],
            env={**os.environ, PREEMPTED_MARKER_ENV: str(marker)},
            start_new_session=True,
        )

        def forward(signum: int, frame: FrameType | None) -> None:
            process.send_signal(signum)

        previous = {number: signal.signal(number, forward) for number in _FORWARDED}
        try:
            code = process.wait()
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
        if marker.is_file():
            return EXIT_PREEMPTED
        return code if code >= 0 else 128 - code
