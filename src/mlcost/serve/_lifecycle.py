"""Start-up and the graceful shutdown: readiness, the drain, the spot notice, the exit.

    ready ──SIGTERM / SIGINT / spot notice / POST /admin/drain──▶ draining
      /readyz 503 at once; every request still served (answers say Connection: close)
      ... drain_delay_s (a second signal skips the rest of it) ...
    stopping
      listeners closed; queued texts run at once (no batch delay); in-flight requests
      finish (uvicorn waits up to request_timeout_s)
    stopped
      batchers empty, the last cost tick and metrics written, logs flushed; exit 0

A third signal exits at once (uvicorn's force exit), as a stuck process must.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Literal

import uvicorn

from mlcost.serve._batcher import Batcher
from mlcost.serve._config import Shutdown, Spot
from mlcost.serve._metrics import Metrics

_log = logging.getLogger("mlcost.serve")

State = Literal["starting", "ready", "draining", "stopping", "stopped"]
_TICK_S = 1.0


@dataclass
class Lifecycle:
    """The server's state and the tasks that move it (module docstring)."""

    shutdown: Shutdown
    spot: Spot
    batchers: Sequence[Batcher]
    executors: Sequence[Any]
    metrics: Metrics
    state: State = "starting"
    server: uvicorn.Server | None = None
    on_stopped: Callable[[], None] = lambda: None
    _loop: asyncio.AbstractEventLoop | None = None
    _skip_delay: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _drain_began: float | None = None
    _signals: int = 0

    @property
    def is_ready(self) -> bool:
        return self.state == "ready"

    @property
    def is_draining(self) -> bool:
        return self.state in ("draining", "stopping")

    @property
    def is_accepting(self) -> bool:
        return self.state in ("ready", "draining", "stopping")

    def begin_drain(self, source: str) -> None:
        """Fail readiness now and stop after the drain delay; again: skip the rest of the delay."""
        if self.state not in ("ready", "starting"):
            self._skip_delay.set()
            _log.info("drain delay cut short", extra={"fields": {"source": source}})
            return
        self.state = "draining"
        self._drain_began = time.monotonic()
        self.metrics.ready.set(0)
        _log.info(
            "draining",
            extra={"fields": {"source": source, "drain_delay_s": self.shutdown.drain_delay_s}},
        )
        if self._loop is not None:
            self._tasks.append(self._loop.create_task(self._drain()))

    def on_signal(self, signum: int) -> None:
        """Called by the uvicorn server from the signal handler (the loop's thread)."""
        self._signals += 1
        name = signal.Signals(signum).name
        if self._signals >= 3 and self.server is not None:
            self.server.force_exit = True
            return
        if self._loop is None:  # still loading models: nothing to drain
            if self.server is not None:
                self.server.should_exit = True
            return
        self._loop.call_soon_threadsafe(self.begin_drain, name)

    async def _drain(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._skip_delay.wait(), self.shutdown.drain_delay_s)
        self.state = "stopping"
        for batcher in self.batchers:
            batcher.drain()
        _log.info("stopping: no new connections; finishing what was accepted")
        if self.server is not None:
            self.server.should_exit = True

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        self._loop = asyncio.get_running_loop()
        for batcher, executor in zip(self.batchers, self.executors, strict=True):
            batcher.start(executor)
        self._tasks.append(self._loop.create_task(self._tick()))
        if self.spot.cloud is not None:
            self._tasks.append(self._loop.create_task(self._watch_spot()))
        if self.state == "starting":
            self.state = "ready"
            self.metrics.ready.set(1)
        _log.info("ready")
        try:
            yield
        finally:
            await self._stop()

    async def _stop(self) -> None:
        self.state = "stopping"
        for batcher in self.batchers:
            await batcher.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.metrics.tick()
        self.state = "stopped"
        took = time.monotonic() - self._drain_began if self._drain_began is not None else None
        _log.info("stopped", extra={"fields": {"since_drain_s": took}})
        self.on_stopped()
        for handler in logging.getLogger().handlers + _log.handlers:
            handler.flush()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(_TICK_S)
            self.metrics.tick()

    async def _watch_spot(self) -> None:
        from mlcost.train import PreemptionWatcher

        watcher = PreemptionWatcher(
            cloud=self.spot.cloud,
            metadata_url=self.spot.metadata_url,
            poll_interval_s=self.spot.poll_interval_s,
            handle_sigterm=False,
        )
        while True:
            notice = await asyncio.to_thread(watcher.poll_once)
            if notice is not None:
                self.begin_drain(f"{notice.source}: {notice.detail}")
                return
            await asyncio.sleep(self.spot.poll_interval_s)


class DrainingServer(uvicorn.Server):
    """uvicorn's server, with a signal starting the drain instead of stopping at once; no
    signal is raised again after the shutdown, so a drained server exits 0."""

    def __init__(self, config: uvicorn.Config, lifecycle: Lifecycle) -> None:
        super().__init__(config)
        self.lifecycle = lifecycle
        lifecycle.server = self

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.lifecycle.on_signal(sig)
