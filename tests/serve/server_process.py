"""A workspace with two tiny ONNX variants, and `mlcost serve` run on it as a real process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
from tiny_model import build_tiny_bert

from mlcost.compress import export_onnx
from mlcost.core import Store, Variant, Workspace
from mlcost.runtime import artifact_bytes


def make_workspace(home: Path) -> Path:
    """A workspace holding variants "student" and "teacher": tiny random BERTs in ONNX."""
    import torch

    workspace = Workspace.resolve(home).ensure()
    with Store.open(workspace.db_url) as store:
        for seed, name in enumerate(("student", "teacher")):
            torch.manual_seed(seed)
            folder = build_tiny_bert(workspace.artifacts_dir / name)
            export_onnx(folder, folder / "model.onnx")
            store.save_variant(
                Variant(
                    name=name,
                    format="onnx",
                    precision="fp32",
                    method="export",
                    path=str(folder),
                    size_bytes=artifact_bytes(folder / "model.onnx"),
                    parameter_count=1,
                    recipe={"key": f"{name}-key"},
                )
            )
    return home


@dataclass
class ServerProcess:
    """`mlcost --home HOME serve FILE --port 0`; the URL comes from its "listening" log line."""

    home: Path
    config: dict[str, object]
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[str] | None = None
    url: str = ""
    log: list[dict[str, object]] = field(default_factory=list)

    def __enter__(self) -> ServerProcess:
        file = self.home / f"serve-{time.monotonic_ns()}.yaml"
        file.write_text(yaml.safe_dump(self.config), encoding="utf-8")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlcost",
                "--home",
                str(self.home),
                "serve",
                str(file),
                "--port",
                "0",
            ],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env={**os.environ, **self.env},
        )
        self.url = self._wait_for("listening", 120)["url"]  # type: ignore[assignment]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"server never ready: {self.log}")

    def _wait_for(self, message: str, timeout_s: float) -> dict[str, object]:
        assert self.process is not None and self.process.stderr is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if not line:
                raise AssertionError(f"server exited {self.process.wait()}: {self.log}")
            try:
                record = json.loads(line)
            except ValueError:
                record = {"message": line.rstrip()}
            self.log.append(record)
            if record.get("message") == message:
                return record
        raise AssertionError(f"no {message!r} in {timeout_s} s: {self.log}")

    def terminate(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout_s: float) -> int:
        """The exit code; the rest of the log is read into ``log``."""
        assert self.process is not None and self.process.stderr is not None
        code = self.process.wait(timeout_s)
        for line in self.process.stderr.read().splitlines():
            try:
                self.log.append(json.loads(line))
            except ValueError:
                self.log.append({"message": line})
        return code

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
