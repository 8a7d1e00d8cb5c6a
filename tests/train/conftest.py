"""Fixtures for checkpoint storage: a real S3-compatible server (moto) and a local folder.

The moto server runs once per session in a thread on 127.0.0.1; each test
gets its own bucket, so tests never see each other's objects.
"""

from __future__ import annotations

import logging
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

MOTO_KEY = "testing"
MOTO_SECRET = "testing"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def moto_endpoint_url() -> Iterator[str]:
    """URL of a moto S3 server running for the whole session."""
    server_module = pytest.importorskip("moto.server")
    # werkzeug logs every request to stderr; keep test output readable.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = _free_port()
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_options(moto_endpoint_url: str) -> dict[str, Any]:
    """storage_options that reach the moto server."""
    return {"endpoint_url": moto_endpoint_url, "key": MOTO_KEY, "secret": MOTO_SECRET}


@pytest.fixture(scope="session")
def s3_raw_fs(moto_endpoint_url: str) -> Any:
    """One s3fs client for the session (a new client costs ~0.3 s of botocore setup)."""
    s3fs = pytest.importorskip("s3fs")
    return s3fs.S3FileSystem(endpoint_url=moto_endpoint_url, key=MOTO_KEY, secret=MOTO_SECRET)


@pytest.fixture
def s3_bucket(s3_raw_fs: Any) -> str:
    """A new, empty bucket on the moto server; returns its name."""
    name = f"ckpt-{uuid.uuid4().hex[:16]}"
    s3_raw_fs.mkdir(name)
    return name


@dataclass
class Target:
    """Where a test's checkpoints live, plus a raw fsspec handle to inspect or damage them."""

    kind: str
    url: str
    root: str  # the root as the raw filesystem names it (no protocol)
    fs: Any
    storage_options: dict[str, Any] = field(default_factory=dict)

    def storage(self, keep_last: int = 3) -> Any:
        """A CheckpointStorage on this target."""
        from mlcost.train._storage import CheckpointStorage

        return CheckpointStorage(
            self.url, keep_last=keep_last, storage_options=self.storage_options
        )

    def path(self, *parts: str) -> str:
        """Raw path of ``parts`` below the root."""
        return "/".join([self.root, *parts])

    def read(self, *parts: str) -> bytes:
        self.fs.invalidate_cache()
        data: bytes = self.fs.cat_file(self.path(*parts))
        return data

    def write(self, data: bytes, *parts: str) -> None:
        """Overwrite a file behind the storage's back."""
        self.fs.pipe_file(self.path(*parts), data)
        self.fs.invalidate_cache()

    def remove(self, *parts: str) -> None:
        self.fs.rm(self.path(*parts), recursive=True)
        self.fs.invalidate_cache()

    def names(self, *parts: str) -> list[str]:
        """Base names of the entries in a folder ([] when it does not exist)."""
        self.fs.invalidate_cache()
        try:
            entries = self.fs.ls(self.path(*parts), detail=False)
        except FileNotFoundError:
            return []
        return sorted(str(entry).rstrip("/").rsplit("/", 1)[-1] for entry in entries)


def local_target(folder: Path) -> Target:
    from fsspec.implementations.local import LocalFileSystem

    return Target(kind="local", url=str(folder), root=str(folder), fs=LocalFileSystem())


def s3_target(bucket: str, options: dict[str, Any], fs: Any, prefix: str = "run") -> Target:
    root = f"{bucket}/{prefix}"
    return Target(kind="s3", url=f"s3://{root}", root=root, fs=fs, storage_options=options)


@pytest.fixture(params=["local", "s3"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    """An empty checkpoint location: a local folder, or a prefix in a fresh moto bucket."""
    if request.param == "local":
        return local_target(tmp_path / "checkpoints")
    return s3_target(
        request.getfixturevalue("s3_bucket"),
        request.getfixturevalue("s3_options"),
        request.getfixturevalue("s3_raw_fs"),
    )


@pytest.fixture
def target_s3(s3_bucket: str, s3_options: dict[str, Any], s3_raw_fs: Any) -> Target:
    """An empty prefix in a fresh moto bucket."""
    return s3_target(s3_bucket, s3_options, s3_raw_fs)
