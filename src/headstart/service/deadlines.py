"""Read deadlines for uvicorn's h11 protocol, against slow clients (slowloris): a request's
headers must arrive within `header_timeout` seconds of the connection (or of the request's
first byte on a kept-alive connection) and its body within `body_timeout` seconds more; past
either, the connection is closed, with a 408 when nothing has been answered on it yet.

uvicorn 0.55 times out only idle kept-alive connections, hence this subclass. It reads the
h11 state uvicorn keeps (`self.conn`); tests/test_service_live.py checks it against a real
uvicorn, so an upgrade that changes those internals fails a test rather than the service.
"""

from __future__ import annotations

import asyncio

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol


class DeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol with one deadline for the headers and one for the body."""

    header_timeout: float = 10.0
    body_timeout: float = 60.0
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._watch(self.header_timeout)

    def data_received(self, data: bytes) -> None:
        awaiting_headers = self.conn.their_state is h11.IDLE
        if awaiting_headers and self._deadline is None:  # a next request on this connection
            self._watch(self.header_timeout)
        super().data_received(data)
        state = self.conn.their_state
        if state is h11.SEND_BODY and awaiting_headers:
            self._watch(self.body_timeout)
        elif state not in (h11.IDLE, h11.SEND_BODY):  # all of it is in (or the end is near)
            self._stop()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop()
        super().connection_lost(exc)

    def _watch(self, seconds: float) -> None:
        self._stop()
        self._deadline = self.loop.call_later(seconds, self._expire)

    def _stop(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self.conn.our_state is h11.IDLE and self.conn.their_state is h11.IDLE:
            message = f"the request did not arrive within {self.header_timeout:g} s".encode()
            self.transport.write(
                b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
                b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(message), message)
            )
        self.transport.close()  # mid-body, the app hears a disconnect and stops reading


def with_deadlines(header_timeout: float, body_timeout: float) -> type[DeadlineProtocol]:
    """The protocol class to hand to uvicorn (`http=`), with these two deadlines."""
    settings = {"header_timeout": header_timeout, "body_timeout": body_timeout}
    return type("DeadlineProtocol", (DeadlineProtocol,), settings)
