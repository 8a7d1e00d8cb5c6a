"""uvicorn's httptools protocol with a deadline on the request head.

uvicorn times out idle keep-alive connections, but not a client that opens a
connection and sends nothing, or sends its headers a byte at a time (the
slowloris attack): each would hold a connection, and with enough of them the
server's connection limit, for ever. This protocol gives every request head
``limits.read_timeout_s`` from its first byte (or from the connection's
opening) to arrive whole; past it the answer is 408 and the connection closes.
The body has the same limit, enforced by the app (``_app._BodyLimit``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class HeadDeadlineProtocol(HttpToolsProtocol):
    """HttpToolsProtocol that closes a connection whose request head is late (module doc)."""

    head_timeout_s: float = 10.0
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.head_timeout_s, self._cut)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _cut(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.write(_TIMEOUT)
            self.transport.close()


def head_deadline_protocol(timeout_s: float) -> type[Any]:
    """The protocol class for uvicorn's ``http=`` setting, with this deadline."""
    return type("HeadDeadline", (HeadDeadlineProtocol,), {"head_timeout_s": timeout_s})
