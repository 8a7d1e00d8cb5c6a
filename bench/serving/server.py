"""Start `mlcost serve` as a process for a benchmark, and the load generator against it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
LOADGEN = Path(__file__).with_name("loadgen.py")


@contextmanager
def running(
    home: Path, config: dict[str, object], *, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """(process, base URL) of `mlcost --home HOME serve FILE --port 0`, ready; stopped after."""
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / "serve.yaml"
        file.write_text(yaml.safe_dump(config), encoding="utf-8")
        process = subprocess.Popen(
            [
                str(ROOT / ".venv/bin/mlcost"),
                "--home",
                str(home),
                "serve",
                str(file),
                "--port",
                "0",
            ],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env={**os.environ, **(env or {})},
        )
        try:
            url = _listening(process)
            wait_ready(url)
            yield process, url
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(60)
                except subprocess.TimeoutExpired:
                    process.kill()


def _listening(process: subprocess.Popen[str]) -> str:
    assert process.stderr is not None
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            raise RuntimeError(f"mlcost serve exited {process.wait()}")
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("message") == "listening":
            # Keep reading its log in the background so the pipe never fills.
            threading.Thread(target=_discard, args=(process.stderr,), daemon=True).start()
            return str(record["url"])
    raise RuntimeError("mlcost serve did not start in 180 s")


def _discard(stream: Iterator[str]) -> None:
    for _ in stream:
        pass


class ServerExited(RuntimeError):
    """The server process ended before its /readyz answered 200."""

    def __init__(self, returncode: int) -> None:
        super().__init__(f"the server exited {returncode} before it was ready")
        self.returncode = returncode


def wait_ready(
    url: str,
    *,
    timeout_s: float = 60.0,
    poll_s: float = 0.1,
    process: subprocess.Popen[bytes] | subprocess.Popen[str] | None = None,
) -> None:
    """Return once ``url``/readyz answers 200; ServerExited if ``process`` ends first,
    RuntimeError past ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ServerExited(process.returncode)
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=1) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(poll_s)
    raise RuntimeError(f"{url} not ready in {timeout_s:g} s")


def load(
    url: str,
    rate: float,
    duration_s: float,
    bodies: list[dict[str, object]],
    *,
    seed: int = 0,
    warmup_s: float = 2.0,
) -> dict[str, object]:
    """One open-loop run of bench/serving/loadgen.py (its own process) against ``url``."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(bodies, handle)
    try:
        out = subprocess.run(
            [
                sys.executable,
                str(LOADGEN),
                "--url",
                f"{url}/v1/predict",
                "--rate",
                str(rate),
                "--duration",
                str(duration_s),
                "--texts",
                handle.name,
                "--seed",
                str(seed),
                "--warmup",
                str(warmup_s),
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=duration_s + 120,
        )
    finally:
        Path(handle.name).unlink()
    result: dict[str, object] = json.loads(out.stdout)
    return result


def metric(url: str, name: str) -> float:
    """The sum of a metric's samples on the server's /metrics."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and not line.startswith("#")
    )


def tweet_bodies(count: int = 400, *, as_list: bool = False) -> list[dict[str, object]]:
    """Request bodies of one real tweet each, the demo's rows evenly spaced:
    ``{"text": t}``, or ``{"texts": [t]}`` with ``as_list``."""
    from mlcost.train import builtin_sentiment

    data = builtin_sentiment()
    step = max(1, len(data.texts) // count)
    rows = [data.texts[i] for i in range(0, len(data.texts), step)][:count]
    return [{"texts": [t]} if as_list else {"text": t} for t in rows]


def cpu_label() -> str:
    """This machine's CPU and the flags inference speed depends on, for a benchmark's header."""
    from mlcost.runtime import read_hardware

    hardware = read_hardware()
    return f"{hardware.label} (flags {' '.join(hardware.cpu_flags)})"
