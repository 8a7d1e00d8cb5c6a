from __future__ import annotations

import json
import logging
import os
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import pytest
from fake_metadata import DEFAULT_AWS_TIME, DEFAULT_AZURE_NOT_BEFORE, FakeMetadataServer

from mlcost.core import TrainError
from mlcost.train._preemption import (
    DEFAULT_METADATA_URLS,
    EXIT_PREEMPTED,
    METADATA_URL_ENV,
    Cloud,
    PreemptionWatcher,
)

CLOUDS: list[Cloud] = ["aws", "gcp", "azure"]
SOURCES = {
    "aws": "aws spot instance-action",
    "gcp": "gcp preempted",
    "azure": "azure scheduled event Preempt",
}


@pytest.fixture
def fake() -> Iterator[FakeMetadataServer]:
    with FakeMetadataServer() as server:
        yield server


@pytest.fixture(autouse=True)
def _no_metadata_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(METADATA_URL_ENV, raising=False)


@pytest.fixture
def keep_sigterm_handler() -> Iterator[None]:
    """Whatever a test does to SIGTERM, the next test gets the handler it had before."""
    before = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, before)


def _closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (connection refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _wait_for(condition: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


# -- the fake speaks the real dialects -------------------------------------------------


def test_fake_aws_requires_an_imdsv2_token(fake: FakeMetadataServer) -> None:
    action_url = f"{fake.url}/latest/meta-data/spot/instance-action"
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(action_url, timeout=2)
    assert caught.value.code == 401
    put = urllib.request.Request(
        f"{fake.url}/latest/api/token",
        method="PUT",
        headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"},
    )
    with urllib.request.urlopen(put, timeout=2) as response:
        token = response.read().decode()
    fake.schedule_aws("stop")
    get = urllib.request.Request(action_url, headers={"X-aws-ec2-metadata-token": token})
    with urllib.request.urlopen(get, timeout=2) as response:
        assert json.loads(response.read()) == {"action": "stop", "time": DEFAULT_AWS_TIME}


def test_fake_gcp_and_azure_require_their_headers(fake: FakeMetadataServer) -> None:
    for path, code in [
        ("/computeMetadata/v1/instance/preempted", 403),
        ("/metadata/scheduledevents?api-version=2020-07-01", 400),
    ]:
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(f"{fake.url}{path}", timeout=2)
        assert caught.value.code == code


# -- notices by polling -----------------------------------------------------------------


@pytest.mark.parametrize("cloud", CLOUDS)
def test_no_notice_polls_none(fake: FakeMetadataServer, cloud: Cloud) -> None:
    watcher = PreemptionWatcher(cloud=cloud, metadata_url=fake.url, handle_sigterm=False)
    assert watcher.poll_once() is None
    assert watcher.poll_once() is None
    assert not watcher.is_preempted
    assert watcher.notice is None
    assert fake.requests  # it did ask


def test_aws_notice_by_poll_once(fake: FakeMetadataServer) -> None:
    watcher = PreemptionWatcher(cloud="aws", metadata_url=fake.url, handle_sigterm=False)
    fake.schedule_aws("terminate")
    notice = watcher.poll_once()
    assert notice is not None
    assert notice.source == "aws spot instance-action"
    assert notice.detail == "terminate at 2026-11-28T17:00:00Z"
    assert notice.received_at.tzinfo is not None
    assert watcher.notice == notice and watcher.is_preempted
    # IMDSv2: the token PUT comes first, and every GET carries the token.
    methods = [(r.method, r.status) for r in fake.requests]
    assert methods == [("PUT", 200), ("GET", 200)]


def test_aws_hibernate_action_is_a_notice_too(fake: FakeMetadataServer) -> None:
    fake.schedule_aws("hibernate", "2026-11-28T17:02:00Z")
    notice = PreemptionWatcher(cloud="aws", metadata_url=fake.url).poll_once()
    assert notice is not None and notice.detail == "hibernate at 2026-11-28T17:02:00Z"


def test_aws_token_is_reused_and_refetched_after_a_401(fake: FakeMetadataServer) -> None:
    watcher = PreemptionWatcher(cloud="aws", metadata_url=fake.url, handle_sigterm=False)
    assert watcher.poll_once() is None
    assert watcher.poll_once() is None
    assert [r.method for r in fake.requests] == ["PUT", "GET", "GET"]  # one token, two polls
    fake.expire_aws_tokens()
    fake.schedule_aws()
    notice = watcher.poll_once()
    assert notice is not None and notice.detail == f"terminate at {DEFAULT_AWS_TIME}"
    tail = [(r.method, r.status) for r in fake.requests[3:]]
    assert tail == [("GET", 401), ("PUT", 200), ("GET", 200)]


def test_gcp_notice_by_poll_once(fake: FakeMetadataServer) -> None:
    watcher = PreemptionWatcher(cloud="gcp", metadata_url=fake.url, handle_sigterm=False)
    fake.schedule_gcp()
    notice = watcher.poll_once()
    assert notice is not None
    assert (notice.source, notice.detail) == ("gcp preempted", "instance preempted")
    assert fake.requests[0].headers["Metadata-Flavor"] == "Google"


def test_azure_preempt_notice_by_poll_once(fake: FakeMetadataServer) -> None:
    watcher = PreemptionWatcher(cloud="azure", metadata_url=fake.url, handle_sigterm=False)
    event_id = fake.add_azure_event("Preempt")
    notice = watcher.poll_once()
    assert notice is not None
    assert notice.source == "azure scheduled event Preempt"
    assert notice.detail == (
        f"preempt {fake.vm_name} not before {DEFAULT_AZURE_NOT_BEFORE} (event {event_id})"
    )
    assert fake.requests[0].path == "/metadata/scheduledevents?api-version=2020-07-01"
    assert fake.requests[0].headers["Metadata"] == "true"


@pytest.mark.parametrize("event_type", ["Reboot", "Redeploy", "Freeze", "Terminate"])
def test_azure_other_events_are_not_notices(fake: FakeMetadataServer, event_type: str) -> None:
    fake.add_azure_event(event_type)
    watcher = PreemptionWatcher(cloud="azure", metadata_url=fake.url, handle_sigterm=False)
    assert watcher.poll_once() is None
    assert not watcher.is_preempted


def test_azure_preempt_of_another_vm_is_not_a_notice(fake: FakeMetadataServer) -> None:
    # Scheduled events reach every VM of a scale set; only our own name counts.
    fake.add_azure_event("Preempt", resources=["some-other-vm"])
    watcher = PreemptionWatcher(cloud="azure", metadata_url=fake.url, handle_sigterm=False)
    assert watcher.poll_once() is None
    fake.add_azure_event("Preempt", resources=["some-other-vm", fake.vm_name])
    assert watcher.poll_once() is not None


@pytest.mark.parametrize("cloud", CLOUDS)
def test_background_thread_sees_a_notice_within_the_poll_interval(
    fake: FakeMetadataServer, cloud: Cloud
) -> None:
    watcher = PreemptionWatcher(
        cloud=cloud, metadata_url=fake.url, poll_interval_s=0.05, handle_sigterm=False
    )
    with watcher:
        assert _wait_for(lambda: len(fake.requests) >= 2)  # polling before any notice
        assert not watcher.is_preempted
        fake.schedule_notice(cloud)
        assert _wait_for(lambda: watcher.is_preempted, timeout_s=2.0)
    assert watcher.notice is not None and watcher.notice.source == SOURCES[cloud]


def test_first_notice_wins(fake: FakeMetadataServer) -> None:
    watcher = PreemptionWatcher(cloud="aws", metadata_url=fake.url, handle_sigterm=False)
    fake.schedule_aws("stop", "2026-11-28T17:00:00Z")
    first = watcher.poll_once()
    fake.schedule_aws("terminate", "2026-11-28T18:00:00Z")
    second = watcher.poll_once()
    assert second is not None and second.detail.startswith("terminate")
    assert watcher.notice == first


# -- failures and configuration -----------------------------------------------------------


@pytest.mark.parametrize("cloud", CLOUDS)
def test_unreachable_endpoint_warns_once_and_keeps_going(
    cloud: Cloud, caplog: pytest.LogCaptureFixture
) -> None:
    url = _closed_port_url()
    watcher = PreemptionWatcher(
        cloud=cloud, metadata_url=url, poll_interval_s=0.01, handle_sigterm=False
    )
    with caplog.at_level(logging.WARNING, logger="mlcost.train"):
        assert watcher.poll_once() is None
        assert watcher.poll_once() is None
        watcher.start()
        time.sleep(0.1)  # several more failing polls in the background
        thread_alive = watcher._thread is not None and watcher._thread.is_alive()
        watcher.stop()
    assert thread_alive
    warnings = [r for r in caplog.records if r.name == "mlcost.train"]
    assert len(warnings) == 1
    assert url in warnings[0].getMessage() and "SIGTERM is still caught" in warnings[0].getMessage()
    assert not watcher.is_preempted


def test_garbage_answer_is_a_warning_not_a_crash(
    fake: FakeMetadataServer, caplog: pytest.LogCaptureFixture
) -> None:
    # A GCP-only watcher pointed at an AWS-only path answers 404: unusable, not a notice.
    watcher = PreemptionWatcher(cloud="gcp", metadata_url=f"{fake.url}/nowhere")
    with caplog.at_level(logging.WARNING, logger="mlcost.train"):
        assert watcher.poll_once() is None
    assert "HTTP 404" in caplog.text


def test_env_var_gives_the_metadata_url(
    fake: FakeMetadataServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(METADATA_URL_ENV, fake.url)
    fake.schedule_gcp()
    watcher = PreemptionWatcher(cloud="gcp", handle_sigterm=False)
    assert watcher.metadata_url == fake.url
    assert watcher.poll_once() is not None


def test_argument_wins_over_env_var(
    fake: FakeMetadataServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(METADATA_URL_ENV, _closed_port_url())
    watcher = PreemptionWatcher(cloud="gcp", metadata_url=fake.url + "/", handle_sigterm=False)
    assert watcher.metadata_url == fake.url
    assert watcher.poll_once() is None and fake.requests


def test_cloud_defaults_are_the_link_local_services() -> None:
    assert DEFAULT_METADATA_URLS == {
        "aws": "http://169.254.169.254",
        "gcp": "http://metadata.google.internal",
        "azure": "http://169.254.169.254",
    }
    assert PreemptionWatcher(cloud="azure").metadata_url == "http://169.254.169.254"


def test_without_a_cloud_nothing_is_contacted(
    fake: FakeMetadataServer, monkeypatch: pytest.MonkeyPatch, keep_sigterm_handler: None
) -> None:
    monkeypatch.setenv(METADATA_URL_ENV, fake.url)
    fake.schedule_gcp()

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the watcher opened a connection")

    monkeypatch.setattr(urllib.request.OpenerDirector, "open", refuse)
    with PreemptionWatcher() as watcher:
        assert watcher.metadata_url is None
        assert watcher.poll_once() is None
        assert watcher._thread is None
    assert fake.requests == []


def test_bad_cloud_names_the_choices() -> None:
    with pytest.raises(TrainError, match=r"unknown cloud 'oracle'.*aws, gcp, azure"):
        PreemptionWatcher(cloud="oracle")  # type: ignore[arg-type]


@pytest.mark.parametrize("kwargs", [{"poll_interval_s": 0.0}, {"request_timeout_s": -1.0}])
def test_bad_timings_are_train_errors(kwargs: dict[str, float]) -> None:
    with pytest.raises(TrainError):
        PreemptionWatcher(cloud="aws", **kwargs)  # type: ignore[arg-type]


def test_exit_code_is_ex_tempfail() -> None:
    assert EXIT_PREEMPTED == 75 == getattr(os, "EX_TEMPFAIL", 75)


# -- SIGTERM ---------------------------------------------------------------------------------


def test_sigterm_records_a_notice_and_stop_restores_the_previous_handler(
    keep_sigterm_handler: None,
) -> None:
    calls: list[int] = []

    def previous(signum: int, frame: FrameType | None) -> None:
        calls.append(signum)

    signal.signal(signal.SIGTERM, previous)
    watcher = PreemptionWatcher().start()
    assert signal.getsignal(signal.SIGTERM) != previous
    os.kill(os.getpid(), signal.SIGTERM)
    assert _wait_for(lambda: watcher.is_preempted, timeout_s=2.0)
    first = watcher.notice
    assert first is not None
    assert (first.source, first.detail) == ("SIGTERM", "signal 15 (SIGTERM) received")
    # A second SIGTERM only records again (the first notice stays), no exit, no exception.
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(0.05)
    assert watcher.notice is first
    watcher.stop()
    assert signal.getsignal(signal.SIGTERM) is previous
    assert calls == []  # the previous handler was not called while we watched
    watcher.stop()  # twice is fine
    assert signal.getsignal(signal.SIGTERM) is previous


def test_context_manager_restores_the_default_handler(keep_sigterm_handler: None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    with PreemptionWatcher() as watcher:
        assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, None)
        assert watcher.start() is watcher  # starting twice keeps the saved handler
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_sigterm_and_polling_together_first_wins(
    fake: FakeMetadataServer, keep_sigterm_handler: None
) -> None:
    with PreemptionWatcher(cloud="gcp", metadata_url=fake.url, poll_interval_s=0.05) as watcher:
        os.kill(os.getpid(), signal.SIGTERM)
        assert _wait_for(lambda: watcher.is_preempted)
        fake.schedule_gcp()
        poller = watcher._thread
        assert poller is not None
        # The loop ends once the endpoint reports the notice; SIGTERM's notice stays.
        assert _wait_for(lambda: not poller.is_alive())
    assert watcher.notice is not None and watcher.notice.source == "SIGTERM"


def test_handle_sigterm_false_leaves_the_handler_alone(keep_sigterm_handler: None) -> None:
    before = signal.getsignal(signal.SIGTERM)
    with PreemptionWatcher(handle_sigterm=False):
        assert signal.getsignal(signal.SIGTERM) is before
    assert signal.getsignal(signal.SIGTERM) is before


def test_sigterm_handling_needs_the_main_thread() -> None:
    errors: list[BaseException] = []

    def start_elsewhere() -> None:
        try:
            PreemptionWatcher().start()
        except TrainError as error:
            errors.append(error)

    thread = threading.Thread(target=start_elsewhere)
    thread.start()
    thread.join()
    assert len(errors) == 1 and "handle_sigterm=False" in str(errors[0])
