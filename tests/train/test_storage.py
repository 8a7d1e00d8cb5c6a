"""Checkpoint storage on a real local folder and a real S3-compatible server (moto)."""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

import pytest
from fsspec.implementations.memory import MemoryFileSystem

from mlcost.core import TrainError
from mlcost.train._storage import CheckpointInfo, CheckpointStorage, ShardDigest

if TYPE_CHECKING:
    from conftest import Target

HERE = Path(__file__).resolve().parent
UPLOAD_FOREVER = HERE / "_upload_forever.py"
LOGGER = "mlcost.train"


def payload(step: int, name: str, size_bytes: int = 40_000) -> bytes:
    """Deterministic bytes for a shard, different for every (step, name)."""
    seed = hashlib.sha256(f"{step}/{name}".encode()).digest()
    return (seed * (size_bytes // len(seed) + 1))[:size_bytes]


def save(
    storage: CheckpointStorage, step: int, names: tuple[str, ...] = ("model.pt", "optim.pt")
) -> CheckpointInfo:
    """Write every shard of ``step`` and commit it."""
    digests = {name: storage.write_shard(step, name, payload(step, name)) for name in names}
    return storage.commit(step, digests, {"step": step})


def folder(step: int) -> str:
    return f"step-{step:09d}"


def warnings_text(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelname == "WARNING"]


# -- round trip -----------------------------------------------------------------------------


def test_round_trip_returns_exact_bytes(target: Target) -> None:
    storage = target.storage()
    big = random.Random(7).randbytes(2 * 2**20 + 12_345)  # spans several 1 MiB hash chunks
    digests = {
        "model.pt": storage.write_shard(120, "model.pt", big),
        "empty.bin": storage.write_shard(120, "empty.bin", b""),
    }
    metadata = {"loss": 0.25, "tokens": 123_456, "tags": ["spot", "a100"]}
    committed = storage.commit(120, digests, metadata)

    info = target.storage().latest()

    assert info == committed
    assert info.step == 120
    assert info.url == f"{target.url}/step-000000120"
    assert info.shards["model.pt"] == ShardDigest(len(big), hashlib.sha256(big).hexdigest())
    assert dict(info.metadata) == metadata
    assert abs(info.created_at - datetime.now(UTC)) < timedelta(minutes=1)
    assert storage.read_shard(info, "model.pt") == big
    assert storage.read_shard(info, "empty.bin") == b""


def test_latest_is_none_when_nothing_was_written(target: Target) -> None:
    assert target.storage().latest() is None
    assert target.storage().committed() == []


def test_latest_picks_the_newest_committed_step(target: Target) -> None:
    storage = target.storage(keep_last=5)
    for step in (100, 20, 300):  # commit order does not matter, the step number does
        save(storage, step)

    info = storage.latest()

    assert info is not None and info.step == 300
    assert [i.step for i in storage.committed()] == [20, 100, 300]
    assert target.read("latest") == b"step-000000300\n"


def test_file_url_keeps_its_form(tmp_path: Path) -> None:
    storage = CheckpointStorage(f"file://{tmp_path}/ckpt")
    save(storage, 5)
    info = storage.latest()
    assert info is not None
    assert info.url == f"file://{tmp_path}/ckpt/step-000000005"
    assert storage.read_shard(info, "model.pt") == payload(5, "model.pt")


# -- skipping what does not verify ------------------------------------------------------------


def test_partial_step_without_manifest_is_skipped_with_warning(
    target: Target, caplog: pytest.LogCaptureFixture
) -> None:
    storage = target.storage()
    save(storage, 100)
    storage.write_shard(200, "model.pt", payload(200, "model.pt"))  # crashed before commit

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        info = storage.latest()

    assert info is not None and info.step == 100
    [message] = warnings_text(caplog)
    assert f"skipping checkpoint {target.url}/step-000000200" in message
    assert "no manifest.json (partial" in message
    assert message.endswith("using step-000000100")


def _truncate(target: Target) -> None:
    data = target.read(folder(200), "model.pt")
    target.write(data[:-100], folder(200), "model.pt")


def _flip_byte(target: Target) -> None:
    data = bytearray(target.read(folder(200), "model.pt"))
    data[len(data) // 2] ^= 0xFF
    target.write(bytes(data), folder(200), "model.pt")


def _remove_shard(target: Target) -> None:
    target.remove(folder(200), "optim.pt")


def _garbage_manifest(target: Target) -> None:
    target.write(b'{"format": "mlcost-checkpoint", "shards": {', folder(200), "manifest.json")


def _manifest_of_other_step(target: Target) -> None:
    target.write(target.read(folder(100), "manifest.json"), folder(200), "manifest.json")


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (_truncate, "shard model.pt has 39900 bytes but the manifest says 40000 (truncated"),
        (_flip_byte, "shard model.pt has sha256 "),
        (_remove_shard, "shard optim.pt is missing"),
        (_garbage_manifest, "manifest.json is unreadable"),
        (_manifest_of_other_step, "manifest.json is unreadable: it says step 100 in the folder"),
    ],
    ids=["truncated", "flipped-byte", "missing-shard", "garbage-manifest", "wrong-step"],
)
def test_damaged_checkpoint_is_skipped_with_warning(
    target: Target, caplog: pytest.LogCaptureFixture, damage: Any, reason: str
) -> None:
    storage = target.storage()
    save(storage, 100)
    save(storage, 200)
    damage(target)

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        info = target.storage().latest()

    assert info is not None and info.step == 100
    assert storage.read_shard(info, "model.pt") == payload(100, "model.pt")
    [message] = warnings_text(caplog)
    assert message.startswith(f"skipping checkpoint {target.url}/step-000000200: {reason}")
    assert message.endswith("; using step-000000100")


def test_flipped_byte_warning_names_both_hashes(
    target: Target, caplog: pytest.LogCaptureFixture
) -> None:
    storage = target.storage()
    save(storage, 100)
    good = save(storage, 200)
    _flip_byte(target)
    actual = hashlib.sha256(target.read(folder(200), "model.pt")).hexdigest()

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        storage.latest()

    [message] = warnings_text(caplog)
    expected = good.shards["model.pt"].sha256
    assert f"has sha256 {actual[:12]}… but the manifest says {expected[:12]}… (corrupt)" in message


def test_no_verified_checkpoint_returns_none_and_says_so(
    target: Target, caplog: pytest.LogCaptureFixture
) -> None:
    storage = target.storage()
    save(storage, 100)
    target.remove(folder(100), "manifest.json")

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert storage.latest() is None

    [message] = warnings_text(caplog)
    assert message.endswith("; no older checkpoint verifies")


def test_committed_checks_sizes_but_not_hashes(target: Target) -> None:
    storage = target.storage(keep_last=5)
    save(storage, 100)
    save(storage, 200)
    save(storage, 300)
    _flip_byte(target)  # step 200: same size, other bytes
    target.write(b"short", folder(300), "model.pt")

    assert [info.step for info in storage.committed()] == [100, 200]
    latest = storage.latest()
    assert latest is not None and latest.step == 100


def test_latest_does_not_trust_the_pointer(target: Target) -> None:
    storage = target.storage()
    save(storage, 100)
    target.write(b"step-000000999\n", "latest")
    info = storage.latest()
    assert info is not None and info.step == 100


# -- retention --------------------------------------------------------------------------------


def test_retention_keeps_the_last_k_committed(target: Target) -> None:
    storage = target.storage(keep_last=2)
    for step in (10, 20, 30, 40):
        save(storage, step)

    assert target.names() == ["latest", folder(30), folder(40)]
    assert [info.step for info in storage.committed()] == [30, 40]


def test_retention_counts_only_committed_folders(target: Target) -> None:
    storage = target.storage(keep_last=2)
    save(storage, 10)
    storage.write_shard(20, "model.pt", payload(20, "model.pt"))  # partial
    save(storage, 30)

    # The partial step 20 is not one of the two kept; it is older than 30, so it goes.
    assert target.names() == ["latest", folder(10), folder(30)]


def test_retention_keeps_partial_folders_newer_than_the_commit(target: Target) -> None:
    storage = target.storage(keep_last=1)
    storage.write_shard(50, "model.pt", payload(50, "model.pt"))  # another rank, in progress
    save(storage, 40)

    assert target.names() == ["latest", folder(40), folder(50)]


def test_only_good_checkpoint_survives_a_partial_newer_one(
    target: Target, caplog: pytest.LogCaptureFixture
) -> None:
    storage = target.storage(keep_last=1)
    save(storage, 10)
    written = storage.write_shard(20, "model.pt", payload(20, "model.pt"))
    digests = {"model.pt": written, "optim.pt": ShardDigest(40_000, "0" * 64)}  # never written

    with pytest.raises(TrainError, match=r"optim\.pt is missing; every rank must finish"):
        storage.commit(20, digests, {})

    assert target.names() == ["latest", folder(10), folder(20)]
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        info = target.storage(keep_last=1).latest()
    assert info is not None and info.step == 10
    assert target.read("latest") == b"step-000000010\n"

    save(storage, 30)  # the next good commit may now replace both
    assert target.names() == ["latest", folder(30)]


def test_committing_an_older_step_keeps_it_and_warns(
    target: Target, caplog: pytest.LogCaptureFixture
) -> None:
    storage = target.storage(keep_last=1)
    save(storage, 300)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        save(storage, 20)  # e.g. a new run pointed at an old run's folder

    assert target.names() == ["latest", folder(20), folder(300)]
    [message] = warnings_text(caplog)
    assert f"committed {target.url}/step-000000020 but {target.url}/step-000000300" in message
    info = storage.latest()
    assert info is not None and info.step == 300


def test_commit_refuses_a_shard_whose_size_changed(target: Target) -> None:
    storage = target.storage()
    digest = storage.write_shard(10, "model.pt", b"12345")
    storage.write_shard(10, "model.pt", b"123")  # a rank rewrote it

    with pytest.raises(TrainError, match="has 3 bytes but the manifest says 5"):
        storage.commit(10, {"model.pt": digest}, {})
    assert "manifest.json" not in target.names(folder(10))


# -- write order ------------------------------------------------------------------------------


class RecordingMemoryFileSystem(MemoryFileSystem):  # type: ignore[misc]
    """An in-memory fsspec backend that records every put and delete, in order."""

    protocol = "recmem"
    events: ClassVar[list[tuple[str, str]]] = []

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(global_store=False, **kwargs)

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        return super()._strip_protocol(str(path).removeprefix("recmem://"))

    def pipe_file(self, path: str, value: bytes, *args: Any, **kwargs: Any) -> Any:
        self.events.append(("put", path.removeprefix("/run/")))
        return super().pipe_file(path, value, *args, **kwargs)

    def rm_file(self, path: str) -> Any:
        self.events.append(("rm", path.removeprefix("/run/")))
        return super().rm_file(path)


@pytest.fixture
def recording_storage() -> Iterator[tuple[CheckpointStorage, list[tuple[str, str]]]]:
    import fsspec

    fsspec.register_implementation("recmem", RecordingMemoryFileSystem, clobber=True)
    events: list[tuple[str, str]] = []
    RecordingMemoryFileSystem.events = events
    options = {"skip_instance_cache": True}
    yield CheckpointStorage("recmem://run", keep_last=1, storage_options=options), events


def test_manifest_then_pointer_then_deletions(
    recording_storage: tuple[CheckpointStorage, list[tuple[str, str]]],
) -> None:
    storage, events = recording_storage
    save(storage, 10, names=("a.pt", "b.pt"))
    assert events == [
        ("put", "step-000000010/a.pt"),
        ("put", "step-000000010/b.pt"),
        ("put", "step-000000010/manifest.json"),
        ("put", "latest"),
    ]

    events.clear()
    save(storage, 20, names=("a.pt",))
    assert events[:3] == [
        ("put", "step-000000020/a.pt"),
        ("put", "step-000000020/manifest.json"),
        ("put", "latest"),
    ]
    # Retention runs after the pointer, and unmarks the old step before emptying it.
    assert events[3] == ("rm", "step-000000010/manifest.json")
    assert sorted(events[4:]) == [("rm", "step-000000010/a.pt"), ("rm", "step-000000010/b.pt")]


# -- reading back -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda data: data[:-1], "changed after it was verified: has 39999 bytes"),
        (lambda data: b"X" + data[1:], "changed after it was verified: has sha256"),
    ],
    ids=["truncated", "overwritten"],
)
def test_read_shard_detects_a_change_after_latest(
    target: Target, change: Any, message: str
) -> None:
    storage = target.storage()
    save(storage, 100)
    info = storage.latest()
    assert info is not None
    target.write(change(target.read(folder(100), "model.pt")), folder(100), "model.pt")

    with pytest.raises(TrainError, match=message):
        storage.read_shard(info, "model.pt")


def test_read_shard_of_a_deleted_shard_says_so(target: Target) -> None:
    storage = target.storage()
    info = save(storage, 100)
    target.remove(folder(100), "model.pt")
    with pytest.raises(TrainError, match="is gone; it was deleted after it was verified"):
        storage.read_shard(info, "model.pt")


def test_read_shard_rejects_unknown_names(target: Target) -> None:
    storage = target.storage()
    info = save(storage, 100)
    with pytest.raises(TrainError, match=r"has no shard 'rng\.pt'"):
        storage.read_shard(info, "rng.pt")


def test_local_writes_leave_no_temp_files(tmp_path: Path) -> None:
    storage = CheckpointStorage(str(tmp_path / "ckpt"), keep_last=2)
    for step in (1, 2, 3):
        save(storage, step)
    storage.write_shard(4, "model.pt", payload(4, "model.pt"))

    names = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert not [name for name in names if "/." in name or name.endswith(".tmp")]
    assert names == [
        "ckpt",
        "ckpt/latest",
        "ckpt/step-000000002",
        "ckpt/step-000000002/manifest.json",
        "ckpt/step-000000002/model.pt",
        "ckpt/step-000000002/optim.pt",
        "ckpt/step-000000003",
        "ckpt/step-000000003/manifest.json",
        "ckpt/step-000000003/model.pt",
        "ckpt/step-000000003/optim.pt",
        "ckpt/step-000000004",
        "ckpt/step-000000004/model.pt",
    ]


# -- bad input and unusable storage -----------------------------------------------------------


@pytest.mark.parametrize("keep_last", [0, -1, True, 1.5])
def test_keep_last_must_be_at_least_one(tmp_path: Path, keep_last: Any) -> None:
    with pytest.raises(TrainError, match="keep_last must be a whole number >= 1"):
        CheckpointStorage(str(tmp_path), keep_last=keep_last)


@pytest.mark.parametrize("name", ["a/b", "", "..", ".hidden", "manifest.json", "a\\b"])
def test_shard_names_must_be_plain_file_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(TrainError, match="is not a plain file name"):
        CheckpointStorage(str(tmp_path)).write_shard(1, name, b"x")


def test_step_must_not_be_negative(tmp_path: Path) -> None:
    with pytest.raises(TrainError, match="step must be a whole number >= 0"):
        CheckpointStorage(str(tmp_path)).write_shard(-1, "model.pt", b"x")


def test_commit_rejects_metadata_that_is_not_json(tmp_path: Path) -> None:
    storage = CheckpointStorage(str(tmp_path))
    digest = storage.write_shard(1, "model.pt", b"x")
    with pytest.raises(TrainError, match="metadata is not JSON-able"):
        storage.commit(1, {"model.pt": digest}, {"when": datetime.now(UTC)})
    with pytest.raises(TrainError, match="no shards"):
        storage.commit(1, {}, {})
    with pytest.raises(TrainError, match="the step folder does not exist; every rank must"):
        storage.commit(2, {"model.pt": digest}, {})


def test_unknown_protocol_is_a_train_error() -> None:
    with pytest.raises(TrainError, match=r"nosuch://x: Protocol not known.*fix --checkpoint-url"):
        CheckpointStorage("nosuch://x")


def test_local_root_under_a_file_is_a_train_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    storage = CheckpointStorage(str(tmp_path / "file" / "ckpt"))
    with pytest.raises(TrainError) as raised:
        storage.write_shard(1, "model.pt", b"x")
    assert str(raised.value).startswith(f"cannot write checkpoints to {tmp_path}/file/ckpt: ")
    assert "\n" not in str(raised.value)


def test_missing_bucket_says_to_create_it(s3_options: dict[str, Any]) -> None:
    storage = CheckpointStorage("s3://no-such-bucket-mlcost/run", storage_options=s3_options)
    expected = (
        "cannot write checkpoints to s3://no-such-bucket-mlcost/run: NoSuchBucket; "
        "create the bucket or fix --checkpoint-url"
    )
    with pytest.raises(TrainError) as raised:
        storage.write_shard(1, "model.pt", b"x")
    assert str(raised.value) == expected
    # Resuming from a missing bucket is an error too, not "no checkpoint yet".
    with pytest.raises(TrainError, match=r"cannot read checkpoints from .*: NoSuchBucket"):
        storage.latest()


def test_unreachable_endpoint_says_to_check_it() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]  # nothing listens once the socket is closed
    options = {
        "endpoint_url": f"http://127.0.0.1:{closed_port}",
        "key": "k",
        "secret": "s",
        "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 1},
    }
    storage = CheckpointStorage("s3://bucket/run", storage_options=options)
    with pytest.raises(TrainError, match=r"EndpointConnectionError.*check the endpoint"):
        storage.latest()


# -- other processes: the env-var route and a writer killed mid-upload ------------------------


def s3_env(endpoint_url: str) -> dict[str, str]:
    """Environment for a child that reaches moto only through env vars."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FSSPEC_"))}
    env.update(
        FSSPEC_S3_ENDPOINT_URL=endpoint_url,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
    )
    return env


class Writers:
    """The _upload_forever.py process: forks checkpoint writers on request."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process

    def start(self, mode: str, url: str, step: int, record: Path) -> int:
        """Fork a writer; returns its pid."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"{mode} {url} {step} {record}\n")
        self.process.stdin.flush()
        return int(self.process.stdout.readline())


@pytest.fixture(scope="session")
def writers(moto_endpoint_url: str) -> Iterator[Writers]:
    """Started once: importing mlcost.train (torch) in a fresh process takes seconds."""
    process = subprocess.Popen(
        [sys.executable, str(UPLOAD_FOREVER)],
        env=s3_env(moto_endpoint_url),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline() == "ready\n"
    try:
        yield Writers(process)
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=30)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for_record(record: Path, pid: int, timeout_s: float = 60) -> list[int]:
    """Steps the writer ``pid`` recorded, once it recorded at least one."""
    deadline = time.monotonic() + timeout_s
    while not (record.exists() and record.read_text().endswith("\n")):
        assert alive(pid) or record.exists(), "the writer died before its first commit"
        assert time.monotonic() < deadline, f"the writer committed nothing in {timeout_s} s"
        time.sleep(0.01)
    return [int(line) for line in record.read_text().split()]


def kill(pid: int) -> None:
    """SIGKILL the writer and wait until it is gone."""
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while alive(pid):
        assert time.monotonic() < deadline, f"writer {pid} survived SIGKILL"
        time.sleep(0.01)
    # A request the writer had fully sent may still be in the server's hands.
    time.sleep(0.2)


def test_endpoint_from_fsspec_env_var(target_s3: Target, writers: Writers, tmp_path: Path) -> None:
    record = tmp_path / "record.txt"
    pid = writers.start("once", target_s3.url, 7, record)  # no storage_options: env only
    assert wait_for_record(record, pid) == [7]

    writer = load_upload_forever()
    storage = target_s3.storage()
    info = storage.latest()
    assert info is not None and info.step == 7
    assert dict(info.metadata) == {"writer": "upload_forever"}
    assert storage.read_shard(info, "rng.pt") == writer.shard_bytes(7, 2)


def load_upload_forever() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_upload_forever", UPLOAD_FOREVER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def partial_folders(target: Target) -> list[str]:
    """Step folders holding shards but no manifest: a kill landed between shards."""
    found = []
    for name in target.names():
        if name.startswith("step-"):
            inside = target.names(name)
            if inside and "manifest.json" not in inside:
                found.append(name)
    return found


def check_after_kill(
    target: Target, writer: ModuleType, recorded: list[int], caplog: pytest.LogCaptureFixture
) -> bool:
    """Assert latest() verifies and matches the writer's bytes; True if a kill hit between shards."""
    partial = partial_folders(target)
    caplog.clear()
    storage = target.storage()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        info = storage.latest()

    # The kill may land after a commit but before its record line, never later.
    assert info is not None
    assert recorded[-1] <= info.step <= recorded[-1] + writer.STEP_EVERY
    for index, name in enumerate(writer.SHARD_NAMES):
        assert storage.read_shard(info, name) == writer.shard_bytes(info.step, index)
    newer_partial = [name for name in partial if int(name.removeprefix("step-")) > info.step]
    warnings = warnings_text(caplog)
    for name in newer_partial:
        assert any(f"{target.url}/{name}: no manifest.json (partial" in w for w in warnings)
    # The pointer is written after the manifest, so it always names a committed step.
    pointer = target.read("latest").decode().strip()
    assert "manifest.json" in target.names(pointer)
    return bool(newer_partial)


@pytest.mark.slow
def test_kill_during_upload_leaves_a_verified_latest(
    target_s3: Target, writers: Writers, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    writer = load_upload_forever()
    rng = random.Random(20240611)
    kills_between_shards = 0
    for round_index in range(10):
        if round_index >= 3 and kills_between_shards:
            break
        record = tmp_path / f"round-{round_index}.txt"
        pid = writers.start("forever", target_s3.url, round_index * 1000, record)
        try:
            wait_for_record(record, pid)
            time.sleep(rng.uniform(0.05, 1.0))
        finally:
            kill(pid)
        recorded = [int(line) for line in record.read_text().split()]
        kills_between_shards += check_after_kill(target_s3, writer, recorded, caplog)

    assert kills_between_shards >= 1, "no kill landed between two shards; widen the delays"
