"""The fake Twilio's WebSocket client: websockets' sans-I/O protocol on an asyncio transport.

A phone line sends 50 frames a second each way for every call, and a bench runs a
hundred calls from one process: the asyncio `connect` costs a task switch, a lock and
a context manager per message. Here a send is a synchronous write, and each message
received is handed to a callback as it is parsed, so a call's clock can send, play and
echo in one tick. No extensions are offered: Twilio's upgrade has no
`Sec-WebSocket-Extensions` (no permessage-deflate).
"""

from __future__ import annotations

import asyncio
from typing import Callable, Mapping

from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.uri import parse_uri

CLOSE_SECONDS = 5.0  # how long `close` waits for the server to finish the closing handshake


class LineSocket(asyncio.Protocol):
    """One client WebSocket: `send` writes now; `on_message(text)` gets every text message, `on_close()` the end."""

    def __init__(self, uri: str, on_message: Callable[[str], None], on_close: Callable[[], None]) -> None:
        self.protocol = ClientProtocol(parse_uri(uri))
        self._on_message = on_message
        self._on_close = on_close
        self._transport: asyncio.Transport | None = None
        self._opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._lost = asyncio.Event()
        self._fragments: list[bytes] = []
        self.response: Response | None = None  # the server's answer to the upgrade
        self.held = False  # while True, sends wait for `release` and go out in one write

    @classmethod
    async def connect(cls, uri: str, headers: Mapping[str, str], on_message: Callable[[str], None],
                      on_close: Callable[[], None]) -> LineSocket:
        """Open the TCP connection and do the upgrade with `headers`; raises the handshake's error."""
        socket = cls(uri, on_message, on_close)
        parsed = parse_uri(uri)
        request = socket.protocol.connect()
        for name, value in headers.items():
            request.headers[name] = value
        await asyncio.get_running_loop().create_connection(lambda: socket, parsed.host, parsed.port)
        socket.protocol.send_request(request)
        socket._flush()
        await socket._opened
        return socket

    @property
    def open(self) -> bool:
        return self.protocol.state is State.OPEN

    def send(self, text: str) -> None:
        """A text message, written at once (or at `release`); nothing once the socket is closing (what is left goes nowhere, as on a line)."""
        if self.open:
            self.protocol.send_text(text.encode())
            if not self.held:
                self._flush()

    def hold(self) -> None:
        """Gather the next sends into one write (a tick's frame and echoes: one system call, not several)."""
        self.held = True

    def release(self) -> None:
        self.held = False
        self._flush()

    async def close(self) -> None:
        """The closing handshake (code 1000), then the TCP connection."""
        if self.open:
            self.protocol.send_close(1000)
            self._flush()
            try:
                await asyncio.wait_for(self._lost.wait(), CLOSE_SECONDS)
            except TimeoutError:
                pass
        if self._transport is not None:
            self._transport.close()
        await self._lost.wait()

    # -- asyncio.Protocol -----------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self.protocol.receive_data(data)
        for event in self.protocol.events_received():
            if isinstance(event, Response):
                self.response = event
                if self.protocol.handshake_exc is not None:
                    self._opened.set_exception(self.protocol.handshake_exc)
                else:
                    self._opened.set_result(None)
            elif isinstance(event, Frame):
                self._frame(event)
        self._flush()  # the protocol's own answers: pong, the closing handshake

    def eof_received(self) -> bool | None:
        self.protocol.receive_eof()
        self._flush()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._opened.done():
            self._opened.set_exception(ConnectionError(f"the connection closed during the upgrade: {exc}"))
        self._lost.set()
        self._on_close()

    def _frame(self, frame: Frame) -> None:
        if frame.opcode is Opcode.TEXT or (frame.opcode is Opcode.CONT and self._fragments):
            self._fragments.append(frame.data)
            if frame.fin:
                text = b"".join(self._fragments).decode()
                self._fragments.clear()
                self._on_message(text)

    def _flush(self) -> None:
        if self._transport is None or self._transport.is_closing():
            return
        chunks = self.protocol.data_to_send()
        if any(chunks):
            self._transport.write(b"".join(chunks))
        if chunks and not chunks[-1] and self._transport.can_write_eof():  # an empty chunk: the protocol half-closes
            self._transport.write_eof()
