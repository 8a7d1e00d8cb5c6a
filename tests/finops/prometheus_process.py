"""A real Prometheus server for tests: its own config and storage in a temp folder, on a free
loopback port, scraping the given targets every second."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import httpx
import pytest
import yaml

MISSING = "{name} not installed (/usr/bin/{name}); run scripts/ensure-tools.sh"


def require_tool(name: str) -> str:
    """The path of a Prometheus tool; skips the test without it (fails it where CI is set)."""
    found = shutil.which(name)
    if found is None:
        message = MISSING.format(name=name)
        if os.environ.get("CI"):
            pytest.fail(f"{message} (CI is set, so this is an error)", pytrace=False)
        pytest.skip(message)
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class PrometheusProcess:
    """`prometheus` scraping ``jobs`` (job name -> host:port targets) every second."""

    folder: Path
    jobs: dict[str, list[str]]
    url: str = ""
    process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> PrometheusProcess:
        binary = require_tool("prometheus")
        config = {
            "global": {
                "scrape_interval": "1s",
                "scrape_timeout": "1s",
                "evaluation_interval": "1s",
            },
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": targets}]}
                for job, targets in self.jobs.items()
            ],
        }
        self.folder.mkdir(parents=True, exist_ok=True)
        config_file = self.folder / "prometheus.yml"
        config_file.write_text(yaml.safe_dump(config), encoding="utf-8")
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={config_file}",
                f"--storage.tsdb.path={self.folder / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=subprocess.DEVNULL,
            stderr=(self.folder / "prometheus.log").open("wb"),
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        self.__exit__(None, None, None)
        raise AssertionError(f"Prometheus never ready: {self.log()}")

    def log(self) -> str:
        return (self.folder / "prometheus.log").read_text(errors="replace")[-2000:]

    def samples(self, promql: str) -> float:
        """The value of an instant query (0 when it has none)."""
        reply = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=5)
        result = reply.json()["data"]["result"]
        return float(result[0]["value"][1]) if result else 0.0

    def wait_for(self, promql: str, at_least: float, timeout_s: float = 20) -> None:
        deadline = time.monotonic() + timeout_s
        while self.samples(promql) < at_least:
            if time.monotonic() > deadline:
                raise AssertionError(f"{promql} stayed under {at_least}: {self.log()}")
            time.sleep(0.2)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
