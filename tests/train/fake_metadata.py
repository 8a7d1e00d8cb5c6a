"""A fake cloud metadata service on 127.0.0.1 that answers like AWS, GCP and Azure.

One server speaks all three dialects (their paths do not overlap), in the real
formats and with the real header checks:

    AWS IMDSv2  PUT /latest/api/token  (needs X-aws-ec2-metadata-token-ttl-seconds, 1..21600)
                GET /latest/meta-data/spot/instance-action  (needs X-aws-ec2-metadata-token,
                    else 401; 404 without a notice, 200 {"action", "time"} with one)
    GCP         GET /computeMetadata/v1/instance/preempted  (needs Metadata-Flavor: Google,
                    else 403; TRUE / FALSE)
    Azure       GET /metadata/scheduledevents?api-version=...  (needs Metadata: true, else 400;
                    {"DocumentIncarnation", "Events": [...]})
                GET /metadata/instance/compute/name?api-version=...&format=text  (the VM name)

Usage::

    with FakeMetadataServer() as fake:
        fake.schedule_notice("aws")
        watcher = PreemptionWatcher(cloud="aws", metadata_url=fake.url)
"""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

AWS_TOKEN_PATH = "/latest/api/token"
AWS_ACTION_PATH = "/latest/meta-data/spot/instance-action"
GCP_PREEMPTED_PATH = "/computeMetadata/v1/instance/preempted"
AZURE_EVENTS_PATH = "/metadata/scheduledevents"
AZURE_NAME_PATH = "/metadata/instance/compute/name"

DEFAULT_VM_NAME = "mlcost-vm"
DEFAULT_AWS_TIME = "2026-11-28T17:00:00Z"
DEFAULT_AZURE_NOT_BEFORE = "Sat, 28 Nov 2026 17:00:00 GMT"


@dataclass(frozen=True, slots=True)
class SeenRequest:
    """One request the fake answered: method, path with query, headers, status sent."""

    method: str
    path: str
    headers: dict[str, str]
    status: int


@dataclass
class _State:
    vm_name: str
    aws_action: dict[str, str] | None = None
    aws_tokens: set[str] = field(default_factory=set)
    gcp_preempted: bool = False
    azure_events: list[dict[str, Any]] = field(default_factory=list)
    azure_incarnation: int = 1
    seen: list[SeenRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class FakeMetadataServer:
    """A ThreadingHTTPServer on 127.0.0.1 (a free port) faking the three metadata services."""

    def __init__(self, *, vm_name: str = DEFAULT_VM_NAME) -> None:
        self._state = _State(vm_name=vm_name)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.state = self._state  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL to pass as metadata_url, e.g. http://127.0.0.1:41234 (no trailing slash)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def vm_name(self) -> str:
        """The name the Azure compute/name endpoint reports for this VM."""
        return self._state.vm_name

    def start(self) -> FakeMetadataServer:
        """Serve in a daemon thread; returns self."""
        # A short shutdown poll keeps each test's teardown fast (the default is 0.5 s).
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeMetadataServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- scheduling notices --------------------------------------------------------

    def schedule_notice(self, cloud: str) -> None:
        """Schedule the standard preemption notice of ``cloud`` ("aws", "gcp" or "azure")."""
        if cloud == "aws":
            self.schedule_aws()
        elif cloud == "gcp":
            self.schedule_gcp()
        elif cloud == "azure":
            self.add_azure_event()
        else:
            raise ValueError(f"unknown cloud {cloud!r}")

    def schedule_aws(self, action: str = "terminate", time: str = DEFAULT_AWS_TIME) -> None:
        """Make instance-action answer 200 {"action": action, "time": time}."""
        with self._state.lock:
            self._state.aws_action = {"action": action, "time": time}

    def schedule_gcp(self) -> None:
        """Make instance/preempted answer TRUE."""
        with self._state.lock:
            self._state.gcp_preempted = True

    def add_azure_event(
        self,
        event_type: str = "Preempt",
        *,
        resources: list[str] | None = None,
        not_before: str = DEFAULT_AZURE_NOT_BEFORE,
    ) -> str:
        """Add a Scheduled Event (for this VM unless ``resources`` says otherwise); returns its id."""
        event_id = str(uuid.uuid4()).upper()
        event = {
            "EventId": event_id,
            "EventType": event_type,
            "ResourceType": "VirtualMachine",
            "Resources": [self._state.vm_name] if resources is None else resources,
            "EventStatus": "Scheduled",
            "NotBefore": not_before,
            "Description": "",
            "EventSource": "Platform",
            "DurationInSeconds": -1 if event_type == "Preempt" else 10,
        }
        with self._state.lock:
            self._state.azure_events.append(event)
            self._state.azure_incarnation += 1
        return event_id

    def clear(self) -> None:
        """Withdraw every scheduled notice and event."""
        with self._state.lock:
            self._state.aws_action = None
            self._state.gcp_preempted = False
            if self._state.azure_events:
                self._state.azure_events.clear()
                self._state.azure_incarnation += 1

    def expire_aws_tokens(self) -> None:
        """Invalidate every IMDSv2 token handed out so far (as a TTL running out would)."""
        with self._state.lock:
            self._state.aws_tokens.clear()

    @property
    def requests(self) -> list[SeenRequest]:
        """Every request answered so far, oldest first (a copy)."""
        with self._state.lock:
            return list(self._state.seen)


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeMetadata/1.0"

    @property
    def state(self) -> _State:
        state: _State = self.server.state  # type: ignore[attr-defined]
        return state

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def do_PUT(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != AWS_TOKEN_PATH:
            self._send(404, "text/plain", "Not Found")
            return
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
        if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
            self._send(400, "text/plain", "Bad Request")
            return
        token = secrets.token_urlsafe(32)
        with self.state.lock:
            self.state.aws_tokens.add(token)
        self._send(200, "text/plain", token, {"X-aws-ec2-metadata-token-ttl-seconds": ttl})

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        routes = {
            AWS_ACTION_PATH: self._aws_instance_action,
            GCP_PREEMPTED_PATH: self._gcp_preempted,
            AZURE_EVENTS_PATH: self._azure_events,
            AZURE_NAME_PATH: self._azure_name,
        }
        route = routes.get(parts.path)
        if route is None:
            self._send(404, "text/plain", "Not Found")
            return
        route(parse_qs(parts.query))

    def _aws_instance_action(self, query: dict[str, list[str]]) -> None:
        token = self.headers.get("X-aws-ec2-metadata-token")
        with self.state.lock:
            valid = token is not None and token in self.state.aws_tokens
            action = self.state.aws_action
        if not valid:
            self._send(401, "text/plain", "Unauthorized")
        elif action is None:
            self._send(404, "text/html", _AWS_NOT_FOUND_HTML)
        else:
            self._send(200, "text/plain", json.dumps(action))

    def _gcp_preempted(self, query: dict[str, list[str]]) -> None:
        if self.headers.get("Metadata-Flavor") != "Google":
            self._send(403, "text/html", "Missing required header: Metadata-Flavor")
            return
        with self.state.lock:
            preempted = self.state.gcp_preempted
        self._send(200, "application/text", "TRUE" if preempted else "FALSE", _GCP_HEADERS)

    def _azure_events(self, query: dict[str, list[str]]) -> None:
        if not self._azure_request_ok(query):
            return
        with self.state.lock:
            document = {
                "DocumentIncarnation": self.state.azure_incarnation,
                "Events": list(self.state.azure_events),
            }
        self._send(200, "application/json; charset=utf-8", json.dumps(document))

    def _azure_name(self, query: dict[str, list[str]]) -> None:
        if not self._azure_request_ok(query):
            return
        self._send(200, "text/plain; charset=utf-8", self.state.vm_name)

    def _azure_request_ok(self, query: dict[str, list[str]]) -> bool:
        """Azure IMDS answers 400 without ``Metadata: true`` or without an api-version."""
        if self.headers.get("Metadata", "").lower() != "true":
            self._send(400, "application/json", _AZURE_NO_HEADER)
            return False
        if "api-version" not in query:
            self._send(400, "application/json", _AZURE_NO_VERSION)
            return False
        return True

    def _send(
        self, status: int, content_type: str, body: str, headers: dict[str, str] | None = None
    ) -> None:
        # Logged before answering, so a client that has its answer sees its request here.
        with self.state.lock:
            self.state.seen.append(
                SeenRequest(self.command, self.path, dict(self.headers.items()), status)
            )
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


_GCP_HEADERS = {"Metadata-Flavor": "Google"}
_AZURE_NO_HEADER = json.dumps({"error": "Bad request. Required metadata header not specified"})
_AZURE_NO_VERSION = json.dumps(
    {"error": "Bad request. api-version was not specified in the request"}
)
_AWS_NOT_FOUND_HTML = (
    '<?xml version="1.0" encoding="iso-8859-1"?>\n'
    "<!DOCTYPE html>\n<html><head><title>404 - Not Found</title></head>"
    "<body><h1>404 - Not Found</h1></body></html>\n"
)
