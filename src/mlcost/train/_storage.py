"""Atomic, verifiable checkpoint storage on a local folder or S3-compatible object storage.

Layout under the storage URL::

    latest                        name of the newest committed step folder (a hint only)
    step-000000120/model.pt       shards, written by any rank with write_shard()
    step-000000120/manifest.json  written last by commit(): sizes, sha256, metadata

A step folder without a readable manifest is partial. ``latest()`` trusts
neither the ``latest`` pointer nor the newest folder: it returns the newest
checkpoint whose every shard still has the size and sha256 its manifest
records. The storage moves bytes only; the caller serializes tensors.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

from mlcost.core._atomic import fsync_directory, write_bytes_atomic
from mlcost.core._errors import MissingDependencyError, TrainError
from mlcost.core._lazy import require

MANIFEST_NAME = "manifest.json"
LATEST_POINTER_NAME = "latest"
MANIFEST_FORMAT = "mlcost-checkpoint"
MANIFEST_FORMAT_VERSION = 1

_HASH_CHUNK_BYTES = 1 << 20
_STEP_FOLDER = re.compile(r"step-(\d{9,})")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_SHORT_HASH_CHARS = 12
_URL_FIX = "fix --checkpoint-url (a local folder, file://... or s3://bucket/prefix)"

logger = logging.getLogger("mlcost.train")


@dataclass(frozen=True, slots=True)
class ShardDigest:
    """Size and SHA-256 (lowercase hex) of one shard's bytes."""

    size_bytes: int
    sha256: str


@dataclass(frozen=True, slots=True)
class CheckpointInfo:
    """A committed checkpoint: its step folder URL, shard digests and commit metadata."""

    step: int
    url: str
    shards: Mapping[str, ShardDigest]
    metadata: Mapping[str, Any]
    created_at: datetime


class _Unusable(Exception):
    """A checkpoint candidate failed verification; never leaves this module."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CheckpointStorage:
    """Checkpoints under one fsspec URL: write shards, commit, find the newest good one."""

    def __init__(
        self,
        url: str,
        *,
        keep_last: int = 3,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        """Open (without any I/O) the storage at ``url``.

        Raises TrainError when ``keep_last`` < 1 or the URL cannot be parsed,
        MissingDependencyError when fsspec (or the backend, e.g. s3fs) is missing.
        """
        if isinstance(keep_last, bool) or not isinstance(keep_last, int) or keep_last < 1:
            raise TrainError(
                f"keep_last must be a whole number >= 1, got {keep_last!r}; "
                "keep at least the newest checkpoint"
            )
        self._keep_last = keep_last
        self._fs, self._root = _open_filesystem(url, dict(storage_options or {}))
        protocols = self._fs.protocol
        self._local = "file" in ((protocols,) if isinstance(protocols, str) else protocols)
        self._url = _display_url(url, self._fs, self._root, local=self._local)

    @property
    def url(self) -> str:
        """The storage root as a URL (absolute path for a plain local folder)."""
        return self._url

    def write_shard(self, step: int, name: str, data: bytes) -> ShardDigest:
        """Store ``data`` as shard ``name`` of ``step``; returns its size and sha256.

        Raises TrainError for a bad step or name, or when the storage refuses the write.
        """
        _check_step(step)
        _check_shard_name(name)
        with self._storage_errors("write checkpoints to"):
            self._put(f"{self._step_path(step)}/{name}", data)
        return ShardDigest(size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest())

    def commit(
        self, step: int, shards: Mapping[str, ShardDigest], metadata: Mapping[str, Any]
    ) -> CheckpointInfo:
        """Write the manifest of ``step`` (last), the ``latest`` pointer, then apply retention.

        Returns the committed checkpoint. Raises TrainError when a shard is
        missing or has another size than its digest says (nothing is written or
        deleted then), when ``metadata`` is not JSON-able, or on storage errors.
        A failed retention only logs a warning: the checkpoint is safe already.
        """
        _check_step(step)
        for name in shards:
            _check_shard_name(name)
        if not shards:
            raise TrainError(f"cannot commit step {step}: no shards; write_shard() first")
        manifest = _manifest_bytes(step, shards, metadata, datetime.now(UTC))
        try:
            info = _parse_manifest(manifest, step, self._step_url(step))
        except _Unusable as unusable:  # e.g. a hand-made ShardDigest with a bad sha256
            raise TrainError(f"cannot commit step {step}: {unusable.reason}") from unusable
        with self._storage_errors("write checkpoints to"):
            self._check_shards_written(info)
            self._put(f"{self._step_path(step)}/{MANIFEST_NAME}", manifest)
            # The pointer goes after the manifest so it never names an uncommitted step.
            self._put(f"{self._root}/{LATEST_POINTER_NAME}", f"{_folder_name(step)}\n".encode())
        try:
            with self._storage_errors("delete old checkpoints in"):
                self._apply_retention(step)
        except TrainError as error:
            logger.warning("%s committed, but retention failed: %s", info.url, error)
        return info

    def latest(self) -> CheckpointInfo | None:
        """The newest checkpoint whose manifest parses and whose shards match it; None if none.

        Candidates are checked newest first (sizes, then streamed sha256) and
        the search stops at the first that verifies. Each skipped candidate is
        logged as a warning on ``mlcost.train``. Raises TrainError when the
        storage cannot be read.
        """
        skipped: list[tuple[str, str]] = []
        found: CheckpointInfo | None = None
        with self._storage_errors("read checkpoints from"):
            for step in reversed(self._list_steps()):
                try:
                    found = self._load_verified(step, hash_shards=True)
                    break
                except _Unusable as unusable:
                    skipped.append((self._step_url(step), unusable.reason))
        outcome = f"using {_folder_name(found.step)}" if found else "no older checkpoint verifies"
        for url, reason in skipped:
            logger.warning("skipping checkpoint %s: %s; %s", url, reason, outcome)
        return found

    def committed(self) -> list[CheckpointInfo]:
        """Checkpoints whose manifest parses and whose shard sizes match, oldest first.

        Cheap: shards are not hashed. Raises TrainError when the storage cannot be read.
        """
        with self._storage_errors("read checkpoints from"):
            return self._committed()

    def read_shard(self, info: CheckpointInfo, name: str) -> bytes:
        """The bytes of shard ``name`` of ``info``, checked again against size and sha256.

        Raises TrainError when the shard is unknown, missing, or changed since
        the manifest was written, or when the storage cannot be read.
        """
        expected = info.shards.get(name)
        if expected is None:
            raise TrainError(
                f"checkpoint {info.url} has no shard {name!r}; it has {sorted(info.shards)}"
            )
        if info.url != self._step_url(info.step):
            raise TrainError(
                f"checkpoint {info.url} does not belong to {self._url}; "
                "read it through the storage that returned it"
            )
        path = f"{self._step_path(info.step)}/{name}"
        with self._storage_errors("read checkpoints from"):
            try:
                data: bytes = self._fs.cat_file(path)
            except FileNotFoundError as exc:
                if _service_error_code(exc):
                    raise
                raise TrainError(
                    f"shard {name} of checkpoint {info.url} is gone; it was deleted after "
                    "it was verified (another writer's retention?); call latest() again"
                ) from exc
        _check_read_bytes(info, name, expected, data)
        return data

    # -- verification -------------------------------------------------------------------

    def _committed(self) -> list[CheckpointInfo]:
        """Every step that passes the cheap check (manifest + sizes), oldest first."""
        found: list[CheckpointInfo] = []
        for step in self._list_steps():
            try:
                found.append(self._load_verified(step, hash_shards=False))
            except _Unusable as unusable:
                logger.debug("not committed: %s: %s", self._step_url(step), unusable.reason)
        return found

    def _load_verified(self, step: int, *, hash_shards: bool) -> CheckpointInfo:
        """The checkpoint of ``step`` after checking sizes (and hashes); raises _Unusable."""
        info = self._load_manifest(step)
        sizes = self._file_sizes(step)
        for name, digest in info.shards.items():
            _check_size(name, sizes.get(name), digest.size_bytes)
        if hash_shards:
            for name, digest in info.shards.items():
                self._check_hash(step, name, digest.sha256)
        return info

    def _load_manifest(self, step: int) -> CheckpointInfo:
        """Parse the manifest of ``step``; raises _Unusable when absent or invalid."""
        try:
            raw: bytes = self._fs.cat_file(f"{self._step_path(step)}/{MANIFEST_NAME}")
        except FileNotFoundError as exc:
            if _service_error_code(exc):
                raise
            raise _Unusable(
                f"no {MANIFEST_NAME} (partial: the writer stopped before commit)"
            ) from exc
        return _parse_manifest(raw, step, self._step_url(step))

    def _file_sizes(self, step: int) -> dict[str, int]:
        """Size in bytes of every file in the step folder, by name (one listing)."""
        try:
            entries = self._fs.ls(self._step_path(step), detail=True)
        except FileNotFoundError as exc:
            if _service_error_code(exc):
                raise
            raise _Unusable("the step folder does not exist") from exc
        return {
            _base_name(entry["name"]): int(entry["size"])
            for entry in entries
            if entry.get("type") == "file"
        }

    def _check_hash(self, step: int, name: str, expected_sha256: str) -> None:
        """Stream the shard through sha256; raises _Unusable when it differs or is gone."""
        digest = hashlib.sha256()
        try:
            for chunk in self._read_chunks(f"{self._step_path(step)}/{name}"):
                digest.update(chunk)
        except FileNotFoundError as exc:
            if _service_error_code(exc):
                raise
            raise _Unusable(f"shard {name} is missing") from exc
        actual = digest.hexdigest()
        if actual != expected_sha256:
            raise _Unusable(
                f"shard {name} has sha256 {_short(actual)} but the manifest says "
                f"{_short(expected_sha256)} (corrupt)"
            )

    def _read_chunks(self, path: str) -> Iterator[bytes]:
        """The file's bytes in chunks of at most 1 MiB, so a shard is never held whole."""
        if self._local:
            opened = Path(path).open("rb")  # noqa: SIM115 - closed by the with below
        else:
            # No read-ahead cache: each read is one ranged GET of one chunk.
            opened = self._fs.open(path, "rb", block_size=_HASH_CHUNK_BYTES, cache_type="none")
        with opened as handle:
            while chunk := handle.read(_HASH_CHUNK_BYTES):
                yield chunk

    def _check_shards_written(self, info: CheckpointInfo) -> None:
        """Refuse to commit when a shard is missing or has another size than its digest."""
        self._fs.invalidate_cache()  # other ranks wrote their shards from other processes
        try:
            sizes = self._file_sizes(info.step)
            for name, digest in info.shards.items():
                _check_size(name, sizes.get(name), digest.size_bytes)
        except _Unusable as unusable:
            raise TrainError(
                f"cannot commit {info.url}: {unusable.reason}; every rank must finish "
                "write_shard() for this step before commit()"
            ) from unusable

    # -- listing, writing, deleting -----------------------------------------------------

    def _list_steps(self) -> list[int]:
        """Steps of all step folders under the root, ascending; [] when the root is absent."""
        # Another process (another rank, a killed writer) may have changed the
        # storage since this filesystem object cached a listing.
        self._fs.invalidate_cache()
        try:
            entries = self._fs.ls(self._root, detail=True)
        except FileNotFoundError as exc:
            if _service_error_code(exc):  # e.g. NoSuchBucket: not an empty prefix
                raise
            return []
        steps = [_step_of(_base_name(e["name"])) for e in entries if e.get("type") == "directory"]
        return sorted(step for step in steps if step is not None)

    def _put(self, path: str, data: bytes) -> None:
        """Write one file: atomic rename locally, a single put on object storage."""
        if not self._local:
            self._fs.pipe_file(path, data)
            return
        target = Path(path)
        _make_local_folder(target.parent)
        write_bytes_atomic(target, data)

    def _apply_retention(self, just_committed: int) -> None:
        """Keep the newest ``keep_last`` committed checkpoints; delete older and partial folders.

        Uncommitted folders newer than the newest committed one are kept: they
        may be a checkpoint another rank is writing right now. The step just
        committed is never deleted, even when newer ones exist.
        """
        committed = [info.step for info in self._committed()]
        if not committed:
            return
        if just_committed < committed[-1]:
            logger.warning(
                "committed %s but %s is newer, so latest() will resume from that one; "
                "use a fresh --checkpoint-url for a new run",
                self._step_url(just_committed),
                self._step_url(committed[-1]),
            )
        kept = {*committed[-self._keep_last :], just_committed}
        for step in self._list_steps():
            if step in kept or step > committed[-1]:
                continue
            why = "retention" if step in committed else "uncommitted, older than the newest"
            logger.info("deleting checkpoint %s (%s)", self._step_url(step), why)
            self._delete_step(step)

    def _delete_step(self, step: int) -> None:
        """Delete the manifest first, so a half-deleted folder reads as partial, then the rest."""
        folder = self._step_path(step)
        manifest = f"{folder}/{MANIFEST_NAME}"
        if self._fs.exists(manifest):
            self._fs.rm_file(manifest)
            if self._local:
                fsync_directory(Path(folder))
        self._fs.rm(folder, recursive=True)
        if self._local:
            fsync_directory(Path(self._root))

    # -- names and errors ---------------------------------------------------------------

    def _step_path(self, step: int) -> str:
        return f"{self._root}/{_folder_name(step)}"

    def _step_url(self, step: int) -> str:
        return f"{self._url}/{_folder_name(step)}"

    @contextmanager
    def _storage_errors(self, action: str) -> Iterator[None]:
        """Turn any backend failure into a one-line TrainError that says what to fix."""
        try:
            yield
        except TrainError:
            raise
        except Exception as exc:  # backends raise their own types (botocore, aiohttp, OSError)
            raise TrainError(_storage_error_message(action, self._url, exc)) from exc


# -- module helpers -------------------------------------------------------------------------


def _open_filesystem(url: str, storage_options: dict[str, Any]) -> tuple[Any, str]:
    """The fsspec filesystem and root path (no trailing slash) for ``url``.

    Raises TrainError for an unusable URL, MissingDependencyError when the
    backend package is not installed.
    """
    fsspec = require("fsspec", extra="train", purpose="checkpoint storage")
    if not url.strip():
        raise TrainError(f"the checkpoint URL is empty; {_URL_FIX}")
    try:
        fs, root = fsspec.core.url_to_fs(url, **storage_options)
    except ImportError as exc:  # fsspec's message names the package, e.g. "Install s3fs ..."
        raise MissingDependencyError(
            f"cannot open checkpoint storage {url}: {_one_line(exc)} "
            "(s3:// comes with: pip install 'mlcost[train]')"
        ) from exc
    except Exception as exc:  # fsspec raises ValueError/KeyError/TypeError for bad URLs
        raise TrainError(
            f"cannot open checkpoint storage {url}: {_one_line(exc)}; {_URL_FIX}"
        ) from exc
    root = str(root).rstrip("/") or "/"
    if root == "/" and "://" in url and not url.startswith("file://"):
        raise TrainError(f"checkpoint URL {url} names no bucket or folder; {_URL_FIX}")
    return fs, root


def _display_url(url: str, fs: Any, root: str, *, local: bool) -> str:
    """The root as users should see it: the form they gave, made absolute."""
    if local:
        return f"file://{root}" if url.startswith("file://") else root
    return str(fs.unstrip_protocol(root))


def _make_local_folder(folder: Path) -> None:
    """Create ``folder`` (and parents) and make its new directory entry durable."""
    if folder.is_dir():
        return
    folder.mkdir(parents=True, exist_ok=True)
    fsync_directory(folder.parent)


def _manifest_bytes(
    step: int, shards: Mapping[str, ShardDigest], metadata: Mapping[str, Any], created_at: datetime
) -> bytes:
    """The manifest JSON. Raises TrainError when ``metadata`` is not JSON-able."""
    document = {
        "format": MANIFEST_FORMAT,
        "format_version": MANIFEST_FORMAT_VERSION,
        "step": step,
        "created_at": created_at.isoformat(),
        "shards": {
            name: {"size_bytes": d.size_bytes, "sha256": d.sha256}
            for name, d in sorted(shards.items())
        },
        "metadata": dict(metadata),
    }
    try:
        text = json.dumps(document, indent=2, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TrainError(
            f"cannot commit step {step}: metadata is not JSON-able ({exc}); "
            "pass numbers, strings, lists and dicts only"
        ) from exc
    return (text + "\n").encode("utf-8")


def _parse_manifest(raw: bytes, step: int, url: str) -> CheckpointInfo:
    """The checkpoint a manifest describes; raises _Unusable when it is not a valid one."""
    try:
        document = json.loads(raw.decode("utf-8"))
        if not isinstance(document, dict):
            raise ValueError("not a JSON object")
        _check_format(document, step)
        return CheckpointInfo(
            step=step,
            url=url,
            shards=MappingProxyType(_parse_shards(document.get("shards"))),
            metadata=MappingProxyType(_parse_metadata(document.get("metadata"))),
            created_at=_parse_created_at(document.get("created_at")),
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise _Unusable(f"{MANIFEST_NAME} is unreadable: {_one_line(exc)} (corrupt)") from exc


def _check_format(document: dict[str, Any], step: int) -> None:
    if document.get("format") != MANIFEST_FORMAT:
        raise ValueError(f"format is {document.get('format')!r}, not {MANIFEST_FORMAT!r}")
    version = document.get("format_version")
    if version != MANIFEST_FORMAT_VERSION:
        raise ValueError(f"format_version {version!r} is not {MANIFEST_FORMAT_VERSION}")
    if document.get("step") != step:
        raise ValueError(f"it says step {document.get('step')!r} in the folder of step {step}")


def _parse_shards(value: object) -> dict[str, ShardDigest]:
    if not isinstance(value, dict) or not value:
        raise ValueError("shards is not a non-empty object")
    shards: dict[str, ShardDigest] = {}
    for name, entry in sorted(value.items()):
        _check_shard_name(name, error=ValueError)
        shards[name] = _parse_digest(name, entry)
    return shards


def _parse_digest(name: str, entry: object) -> ShardDigest:
    if not isinstance(entry, dict):
        raise ValueError(f"shard {name!r} is not an object")
    size, sha = entry.get("size_bytes"), entry.get("sha256")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ValueError(f"shard {name!r} has no valid size_bytes")
    if not isinstance(sha, str) or not _SHA256_HEX.fullmatch(sha):
        raise ValueError(f"shard {name!r} has no valid sha256")
    return ShardDigest(size_bytes=size, sha256=sha)


def _parse_metadata(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError("metadata is not an object")
    return value


def _parse_created_at(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError("created_at is missing")
    created_at = datetime.fromisoformat(value)
    if created_at.tzinfo is None:
        raise ValueError("created_at has no time zone")
    return created_at


def _check_size(name: str, actual_bytes: int | None, expected_bytes: int) -> None:
    """Raises _Unusable when the shard is missing or has another size."""
    if actual_bytes is None:
        raise _Unusable(f"shard {name} is missing")
    if actual_bytes != expected_bytes:
        raise _Unusable(
            f"shard {name} has {actual_bytes} bytes but the manifest says {expected_bytes} "
            "(truncated or corrupt)"
        )


def _check_read_bytes(info: CheckpointInfo, name: str, expected: ShardDigest, data: bytes) -> None:
    """Raises TrainError when bytes read back differ from the manifest's digest."""
    problem = None
    if len(data) != expected.size_bytes:
        problem = f"has {len(data)} bytes but the manifest says {expected.size_bytes}"
    elif (actual := hashlib.sha256(data).hexdigest()) != expected.sha256:
        problem = f"has sha256 {_short(actual)} but the manifest says {_short(expected.sha256)}"
    if problem:
        raise TrainError(
            f"shard {name} of checkpoint {info.url} changed after it was verified: {problem}; "
            "something overwrote or damaged it; call latest() again to pick a good checkpoint"
        )


def _check_step(step: int) -> None:
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise TrainError(f"checkpoint step must be a whole number >= 0, got {step!r}")


def _check_shard_name(name: str, error: type[Exception] = TrainError) -> None:
    """Shard names are plain file names; the manifest's name and hidden names are reserved."""
    plain = isinstance(name, str) and "/" not in name and "\\" not in name
    if not plain or name in {"", MANIFEST_NAME} or name.startswith("."):
        raise error(
            f"shard name {name!r} is not a plain file name (no '/', not hidden, "
            f"not {MANIFEST_NAME!r}); use e.g. 'model.pt'"
        )


def _folder_name(step: int) -> str:
    return f"step-{step:09d}"


def _step_of(folder_name: str) -> int | None:
    """The step a folder name encodes, or None for any other name (or a non-canonical one)."""
    match = _STEP_FOLDER.fullmatch(folder_name)
    if match is None:
        return None
    step = int(match.group(1))
    return step if _folder_name(step) == folder_name else None


def _base_name(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def _short(sha256: str) -> str:
    return f"{sha256[:_SHORT_HASH_CHARS]}…"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _service_error_code(exc: BaseException) -> str | None:
    """The object store's error code (e.g. NoSuchBucket) behind ``exc``, if any.

    s3fs turns botocore errors into OSError subclasses and keeps the original
    as the cause; reading its ``response`` avoids importing botocore.
    """
    seen: BaseException | None = exc
    while seen is not None:
        response = getattr(seen, "response", None)
        if isinstance(response, dict):
            code = response.get("Error", {}).get("Code")
            if isinstance(code, str) and code:
                return code
        seen = seen.__cause__ or seen.__context__
    return None


_ACCESS_CODES = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"}


def _storage_error_message(action: str, url: str, exc: BaseException) -> str:
    """One line: what failed, why, and what to fix."""
    code = _service_error_code(exc)
    reason = code or f"{type(exc).__name__}: {_one_line(exc)}"
    names = {cls.__name__ for cls in type(exc).__mro__}
    if code == "NoSuchBucket":
        fix = "create the bucket or fix --checkpoint-url"
    elif code in _ACCESS_CODES or isinstance(exc, PermissionError):
        fix = f"check the credentials and that they may read and write {url}"
    elif "NoCredentialsError" in names:
        fix = "set credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or storage_options key/secret)"
    elif isinstance(exc, ConnectionError | TimeoutError) or "ConnectionError" in names:
        fix = (
            "check the endpoint (FSSPEC_S3_ENDPOINT_URL or storage_options endpoint_url) "
            "and that the server is reachable"
        )
    else:
        fix = "check --checkpoint-url, the credentials and the endpoint"
    return f"cannot {action} {url}: {reason}; {fix}"
