"""Preemption notices: SIGTERM and the spot/preemptible notices of AWS, GCP and Azure.

A spot VM gets a short warning before it is taken away (AWS about 2 minutes,
GCP and Azure about 30 seconds). ``PreemptionWatcher`` turns that warning into
a flag the training loop reads between steps: the loop finishes its step,
writes a checkpoint and exits with ``EXIT_PREEMPTED`` so an orchestrator
restarts it elsewhere. Nothing here exits or raises on its own.

Endpoints polled (only when a cloud is named):

    aws    PUT  /latest/api/token                      (IMDSv2 session token)
           GET  /latest/meta-data/spot/instance-action  404 = no notice, 200 = JSON notice
    gcp    GET  /computeMetadata/v1/instance/preempted  TRUE / FALSE
    azure  GET  /metadata/scheduledevents?api-version=2020-07-01   "Preempt" events for this VM
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import signal
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import FrameType, TracebackType
from typing import Any, Final, Literal, get_args

from mlcost.core import TrainError

EXIT_PREEMPTED: Final = 75  # EX_TEMPFAIL: "preempted, restart me" for an orchestrator
# A file the engine writes as it exits preempted, when this variable names one: a launcher
# whose own exit code hides the worker's (torchrun) learns from it (`mlcost torchrun`).
PREEMPTED_MARKER_ENV: Final = "MLCOST_PREEMPTED_MARKER"

Cloud = Literal["aws", "gcp", "azure"]
CLOUDS: Final[tuple[Cloud, ...]] = get_args(Cloud)

DEFAULT_METADATA_URLS: Final[dict[Cloud, str]] = {
    "aws": "http://169.254.169.254",
    "gcp": "http://metadata.google.internal",
    "azure": "http://169.254.169.254",
}
METADATA_URL_ENV: Final = "MLCOST_METADATA_URL"

_AWS_TOKEN_PATH = "/latest/api/token"
_AWS_ACTION_PATH = "/latest/meta-data/spot/instance-action"
_AWS_TOKEN_TTL_S = 21600  # the longest IMDSv2 allows; a 401 makes us fetch a new one anyway
_GCP_PREEMPTED_PATH = "/computeMetadata/v1/instance/preempted"
_AZURE_EVENTS_PATH = "/metadata/scheduledevents?api-version=2020-07-01"
_AZURE_NAME_PATH = "/metadata/instance/compute/name?api-version=2021-02-01&format=text"

_log = logging.getLogger("mlcost.train")

# What signal.signal returns and accepts (typeshed keeps its own alias private).
_SignalHandler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None

# urllib honours http_proxy/HTTP_PROXY; a link-local metadata address must never go
# through a proxy (the proxy would answer for its own host, or not at all).
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class _MetadataError(Exception):
    """The metadata endpoint answered something we cannot use (internal to polling)."""


@dataclass(frozen=True, slots=True)
class PreemptionNotice:
    """A warning that this machine is about to be taken away.

    ``source`` says who warned ("SIGTERM", "aws spot instance-action",
    "gcp preempted", "azure scheduled event Preempt"); ``detail`` says what was
    announced, e.g. "terminate at 2026-11-28T17:00:00Z"; ``received_at`` is UTC.
    """

    source: str
    detail: str
    received_at: datetime


class PreemptionWatcher:
    """Watches for a preemption notice by SIGTERM and, if a cloud is named, by polling.

    The watcher contacts NO address unless ``cloud`` is given: it never probes
    169.254.169.254 or metadata.google.internal on its own, so it is safe on a
    laptop or a non-cloud cluster. With ``cloud`` set, the metadata URL is
    ``metadata_url``, else the ``MLCOST_METADATA_URL`` environment variable,
    else ``DEFAULT_METADATA_URLS[cloud]``.

    Network errors while polling are logged once (warning, logger
    "mlcost.train") and polling goes on: the notice may still arrive as SIGTERM.
    On Azure the first Scheduled Events request can take minutes (it enables the
    service), so one early timeout warning there is expected.

    The SIGTERM handler only records the notice (no exit, no exception, also on
    a second SIGTERM); the training loop checks ``is_preempted`` between steps.
    The first notice wins; ``notice`` and ``is_preempted`` are thread-safe.

    Raises TrainError for an unknown cloud or a non-positive interval/timeout.
    """

    def __init__(
        self,
        *,
        cloud: Cloud | None = None,
        metadata_url: str | None = None,
        poll_interval_s: float = 5.0,
        handle_sigterm: bool = True,
        request_timeout_s: float = 2.0,
    ) -> None:
        _check_settings(cloud, poll_interval_s, request_timeout_s)
        self.cloud: Cloud | None = cloud
        self.metadata_url: str | None = _resolve_url(cloud, metadata_url)
        self.poll_interval_s = poll_interval_s
        self.handle_sigterm = handle_sigterm
        self.request_timeout_s = request_timeout_s
        # Re-entrant: the SIGTERM handler runs on the main thread, possibly while
        # that same thread holds the lock (reading ``notice``); a plain Lock would deadlock.
        self._notice_lock = threading.RLock()
        self._notice: PreemptionNotice | None = None
        self._poll_lock = threading.Lock()  # one poll at a time: token and name caches
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._previous_handler: _SignalHandler = None
        self._installed_handler = False
        self._aws_token: str | None = None
        self._azure_vm_name: str | None = None
        self._warned = False

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> PreemptionWatcher:
        """Install the SIGTERM handler and start polling (when a cloud is set); returns self.

        Calling start on a started watcher does nothing. Raises TrainError when
        asked to handle SIGTERM from a thread other than the main thread (Python
        only lets the main thread install signal handlers).
        """
        if self._installed_handler or self._thread is not None:
            return self
        if self.handle_sigterm:
            self._install_sigterm_handler()
        if self.cloud is not None:
            self._stop_event.clear()
            self._thread = threading.Thread(
                target=self._poll_loop, name="mlcost-preemption-watcher", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop polling and put back the SIGTERM handler that was there before start.

        Safe to call twice. The recorded notice is kept. Raises TrainError when
        the handler must be restored from a thread other than the main thread.
        """
        self._stop_event.set()
        if self._thread is not None:
            # A poll in flight ends within its request timeouts (an AWS poll makes up to
            # four requests); the thread is a daemon, so it never blocks interpreter exit.
            self._thread.join(timeout=4 * self.request_timeout_s + 1.0)
            self._thread = None
        if self._installed_handler:
            self._restore_sigterm_handler()

    def __enter__(self) -> PreemptionWatcher:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- state ---------------------------------------------------------------------

    @property
    def notice(self) -> PreemptionNotice | None:
        """The first notice received, or None while none has come."""
        with self._notice_lock:
            return self._notice

    @property
    def is_preempted(self) -> bool:
        """True once any notice has been received."""
        return self.notice is not None

    def _record(self, notice: PreemptionNotice) -> bool:
        """Keep ``notice`` unless one is already kept; returns True when it was the first."""
        with self._notice_lock:
            if self._notice is not None:
                return False
            self._notice = notice
            return True

    # -- SIGTERM ---------------------------------------------------------------------

    def _install_sigterm_handler(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            raise TrainError(
                "the preemption watcher can only catch SIGTERM when started from the main "
                "thread; start it there or pass handle_sigterm=False"
            )
        self._previous_handler = signal.signal(signal.SIGTERM, self._on_sigterm)
        self._installed_handler = True

    def _restore_sigterm_handler(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            raise TrainError(
                "the preemption watcher must be stopped from the main thread, "
                "which installed its SIGTERM handler"
            )
        previous = self._previous_handler
        # None means the old handler was not installed from Python; the default is
        # the closest thing we can put back.
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
        self._previous_handler = None
        self._installed_handler = False

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        # Only record: no logging or I/O here, because a handler that writes to a
        # stream the interrupted code was writing to can fail with a reentrant call.
        self._record(
            PreemptionNotice(
                source="SIGTERM",
                detail=f"signal {signum} ({signal.Signals(signum).name}) received",
                received_at=datetime.now(UTC),
            )
        )

    # -- polling ---------------------------------------------------------------------

    def _poll_loop(self) -> None:
        while not self._stop_event.is_set():
            if self.poll_once() is not None:
                return  # a notice is final; nothing more to learn from the endpoint
            self._stop_event.wait(self.poll_interval_s)

    def poll_once(self) -> PreemptionNotice | None:
        """Ask the metadata endpoint once; returns the notice it reports, else None.

        Returns None without any network access when no cloud is set, and None
        when the endpoint cannot be reached or answers nonsense (logged once as
        a warning). A notice found here is recorded (the first notice wins).
        """
        if self.cloud is None or self.metadata_url is None:
            return None
        with self._poll_lock:
            try:
                found = _POLLERS[self.cloud](self)
            except (OSError, http.client.HTTPException, _MetadataError, ValueError) as error:
                self._warn_once(error)
                return None
        if found is not None and self._record(found):
            _log.warning("preemption notice: %s: %s", found.source, found.detail)
        return found

    def _warn_once(self, error: Exception) -> None:
        if self._warned:
            _log.debug("metadata poll failed again: %s", error)
            return
        self._warned = True
        _log.warning(
            "cannot read the %s preemption notice from %s (%s); still polling every %g s, "
            "and SIGTERM is still caught",
            self.cloud,
            self.metadata_url,
            error,
            self.poll_interval_s,
        )

    def _request(
        self, path: str, headers: dict[str, str], *, method: str = "GET"
    ) -> tuple[int, str]:
        """One HTTP request to the metadata service; returns (status, body) for any status.

        Raises OSError (URLError, timeouts) or HTTPException when nothing usable came back.
        """
        request = urllib.request.Request(
            f"{self.metadata_url}{path}", headers=headers, method=method
        )
        try:
            with _OPENER.open(request, timeout=self.request_timeout_s) as response:
                return int(response.status), response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.read().decode("utf-8", "replace")

    # -- AWS ---------------------------------------------------------------------------

    def _poll_aws(self) -> PreemptionNotice | None:
        status, body = self._aws_get_action()
        if status == 401:
            # The token expired (or the instance was restarted): get a new one, once.
            self._aws_token = None
            status, body = self._aws_get_action()
        if status == 404:
            return None
        if status != 200:
            raise _MetadataError(f"HTTP {status} from {_AWS_ACTION_PATH}")
        return _aws_notice(body)

    def _aws_get_action(self) -> tuple[int, str]:
        if self._aws_token is None:
            self._aws_token = self._aws_fetch_token()
        return self._request(_AWS_ACTION_PATH, {"X-aws-ec2-metadata-token": self._aws_token})

    def _aws_fetch_token(self) -> str:
        status, body = self._request(
            _AWS_TOKEN_PATH,
            {"X-aws-ec2-metadata-token-ttl-seconds": str(_AWS_TOKEN_TTL_S)},
            method="PUT",
        )
        if status != 200 or not body.strip():
            raise _MetadataError(f"HTTP {status} from PUT {_AWS_TOKEN_PATH} (IMDSv2 token)")
        return body.strip()

    # -- GCP ---------------------------------------------------------------------------

    def _poll_gcp(self) -> PreemptionNotice | None:
        status, body = self._request(_GCP_PREEMPTED_PATH, {"Metadata-Flavor": "Google"})
        if status != 200:
            raise _MetadataError(f"HTTP {status} from {_GCP_PREEMPTED_PATH}")
        answer = body.strip().upper()
        if answer == "FALSE":
            return None
        if answer != "TRUE":
            raise _MetadataError(f"{_GCP_PREEMPTED_PATH} answered {body.strip()[:40]!r}")
        return PreemptionNotice(
            source="gcp preempted", detail="instance preempted", received_at=datetime.now(UTC)
        )

    # -- Azure -------------------------------------------------------------------------

    def _poll_azure(self) -> PreemptionNotice | None:
        status, body = self._request(_AZURE_EVENTS_PATH, {"Metadata": "true"})
        if status != 200:
            raise _MetadataError(f"HTTP {status} from {_AZURE_EVENTS_PATH}")
        document = json.loads(body)
        events = document.get("Events", []) if isinstance(document, dict) else None
        if not isinstance(events, list):
            raise _MetadataError("scheduled events document has no Events list")
        preempts = [e for e in events if isinstance(e, dict) and e.get("EventType") == "Preempt"]
        if not preempts:
            return None
        # Events go to every VM of an availability set or scale set: only ours counts.
        vm_name = self._azure_own_name()
        for event in preempts:
            resources = event.get("Resources")
            if isinstance(resources, list) and vm_name in resources:
                return _azure_notice(event, vm_name)
        return None

    def _azure_own_name(self) -> str:
        if self._azure_vm_name is None:
            status, body = self._request(_AZURE_NAME_PATH, {"Metadata": "true"})
            if status != 200 or not body.strip():
                raise _MetadataError(f"HTTP {status} from {_AZURE_NAME_PATH} (own VM name)")
            self._azure_vm_name = body.strip()
        return self._azure_vm_name


_POLLERS: Final[dict[Cloud, Callable[[PreemptionWatcher], PreemptionNotice | None]]] = {
    "aws": PreemptionWatcher._poll_aws,
    "gcp": PreemptionWatcher._poll_gcp,
    "azure": PreemptionWatcher._poll_azure,
}


def _check_settings(cloud: object, poll_interval_s: float, request_timeout_s: float) -> None:
    """Raises TrainError for an unknown cloud or a non-positive interval or timeout."""
    if cloud is not None and cloud not in CLOUDS:
        raise TrainError(
            f"unknown cloud {cloud!r} for the preemption watcher; choose one of "
            f"{', '.join(CLOUDS)}, or none to watch only for SIGTERM"
        )
    if not poll_interval_s > 0:
        raise TrainError(f"poll interval must be above 0 s, got {poll_interval_s}")
    if not request_timeout_s > 0:
        raise TrainError(f"metadata request timeout must be above 0 s, got {request_timeout_s}")


def _resolve_url(cloud: Cloud | None, metadata_url: str | None) -> str | None:
    """The metadata base URL (argument, then env var, then cloud default); None without a cloud."""
    if cloud is None:
        return None
    url = metadata_url or os.environ.get(METADATA_URL_ENV) or DEFAULT_METADATA_URLS[cloud]
    return url.rstrip("/")


def _aws_notice(body: str) -> PreemptionNotice:
    """The notice in an instance-action JSON body; raises ValueError/_MetadataError if malformed."""
    action = json.loads(body)
    if not isinstance(action, dict) or "action" not in action:
        raise _MetadataError(f"{_AWS_ACTION_PATH} answered {body.strip()[:80]!r}")
    return PreemptionNotice(
        source="aws spot instance-action",
        detail=f"{action['action']} at {action.get('time', 'an unknown time')}",
        received_at=datetime.now(UTC),
    )


def _azure_notice(event: dict[str, Any], vm_name: str) -> PreemptionNotice:
    """The notice for one Azure "Preempt" scheduled event affecting ``vm_name``."""
    not_before = event.get("NotBefore") or "an unknown time"
    return PreemptionNotice(
        source="azure scheduled event Preempt",
        detail=f"preempt {vm_name} not before {not_before} (event {event.get('EventId', '?')})",
        received_at=datetime.now(UTC),
    )
