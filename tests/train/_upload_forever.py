"""Checkpoint writers in child processes, for the tests that kill or watch them.

Run ``python _upload_forever.py``: it imports mlcost and s3fs once (seconds,
torch included), then for every line on stdin forks a writer and prints the
writer's pid. Forking from this single-threaded process makes each writer
start in milliseconds and lets the test SIGKILL exactly the writer.

    forever URL FIRST_STEP RECORD   write steps FIRST_STEP, +STEP_EVERY, ... until killed
    once URL STEP RECORD            write one step, then exit

After each commit a writer appends the step to RECORD. Shard bytes are derived
from the step (shard_bytes), so the test can recompute them. Endpoint and
credentials come only from the environment (FSSPEC_S3_ENDPOINT_URL,
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY): the route a cluster job uses.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import sys
from pathlib import Path

SHARD_NAMES = ("model.pt", "optimizer.pt", "rng.pt")
SHARD_SIZE_BYTES = 8 * 2**20
STEP_EVERY = 10
KEEP_LAST = 2


def shard_bytes(step: int, index: int) -> bytes:
    """The bytes of shard ``index`` of ``step``: pseudo-random, fixed by the step."""
    return random.Random(step * 1000 + index).randbytes(SHARD_SIZE_BYTES)


def write_steps(url: str, first_step: int, record: Path, *, forever: bool) -> None:
    """Write, commit and record checkpoints from ``first_step`` on (one unless ``forever``)."""
    from mlcost.train._storage import CheckpointStorage

    storage = CheckpointStorage(url, keep_last=KEEP_LAST)
    step = first_step
    while True:
        digests = {
            name: storage.write_shard(step, name, shard_bytes(step, index))
            for index, name in enumerate(SHARD_NAMES)
        }
        storage.commit(step, digests, {"writer": "upload_forever"})
        with record.open("a", encoding="utf-8") as handle:
            handle.write(f"{step}\n")
        if not forever:
            return
        step += STEP_EVERY


def start_writer(command: str) -> int:
    """Fork a writer for one stdin command; returns its pid (the child never returns)."""
    mode, url, step, record = command.split()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        write_steps(url, int(step), Path(record), forever=mode == "forever")
        code = 0
    except Exception:
        logging.getLogger("upload_forever").exception("the checkpoint writer failed")
    finally:
        os._exit(code)  # never run the parent's loop or atexit hooks in the child


def main() -> None:
    """Pre-import, then fork one writer per stdin line until stdin closes."""
    import s3fs  # noqa: F401 - imported before forking so writers start fast

    import mlcost.train._storage  # noqa: F401

    # Exited writers are reaped by the kernel; the test sees them vanish.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip():
            print(start_writer(line), flush=True)


if __name__ == "__main__":
    main()
