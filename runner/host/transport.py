"""One Realtime WebSocket connection through the `openai` SDK, raw JSON in and out.

We send pre-validated dicts as JSON text and parse frames with `json.loads`
ourselves: the SDK's `send` re-transforms every event through its TypedDicts and
its `recv` builds pydantic objects without validating them, both pure overhead
on the hot path (audio deltas arrive dozens of times a second).

The SDK dials (URL, auth headers, GA endpoint); frames then go straight to and from
its `websockets` connection when the SDK exposes one: `send_raw` adds an anyio task
lookup and a send-queue check per frame for the SDK's own reconnect, which we never
enable (no `on_reconnecting`), so the queue is always empty and the frame reaches the
same `websockets` `send` either way.  The SDK's connection object keeps it as
`_connection` (openai 3.54-3.57, pinned in requirements.lock); if a release stores
anything else there, every frame goes through `send_raw`/`recv_bytes` as before.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import BadFrame, CallGone, ConnectFailed, ConnectionLost


class Transport:
    """Dials by `model` (a new conversation) or by `call_id` (the sideband socket of a SIP or WebRTC call)."""

    def __init__(self, client: Any, *, model: str, call_id: str | None = None) -> None:
        """`client`: an `AsyncOpenAI`, shared by every connection of a transport (building one
        loads the CA bundle, tens of milliseconds on the event loop)."""
        self._client = client
        self._model = model
        self._call_id = call_id
        self._websocket_base_url = client.websocket_base_url
        self._connection: Any = None
        self._socket: Any = None  # the SDK's websockets connection, when it exposes one

    @property
    def url(self) -> str:
        """The WebSocket URL the SDK dials, for messages (it carries no credentials)."""
        base = str(self._websocket_base_url or self._client.base_url).rstrip("/")
        scheme, _, rest = base.partition("://")
        target = f"call_id={self._call_id}" if self._call_id is not None else f"model={self._model}"
        return f"{_WEBSOCKET_SCHEMES.get(scheme, scheme)}://{rest}/realtime?{target}"

    gone = "the call {} is over (its sideband was refused with 404)"

    def _dial(self) -> Any:
        """The SDK's connection manager for this socket."""
        if self._call_id is not None:
            return self._client.realtime.connect(call_id=self._call_id)
        return self._client.realtime.connect(model=self._model)

    async def connect(self) -> None:
        """Open the socket (GA endpoint, no beta header: the SDK never adds one)."""
        try:
            self._connection = await self._dial().enter()
            self._socket = _websocket_of(self._connection)
        except Exception as failure:  # refused, unresolvable, handshake rejected or timed out
            if self._call_id is not None and _handshake_status(failure) == 404:
                raise CallGone(self.gone.format(self._call_id)) from None
            raise ConnectFailed(f"cannot connect to {self.url}: {_failure_text(failure)}") from None

    async def send_text(self, text: str) -> None:
        """Send one client event already serialised as JSON."""
        try:
            if self._socket is not None:
                await self._socket.send(text)
            else:
                await self._connection.send_raw(text)
        except _closed_error() as closed:
            raise ConnectionLost(_describe(closed)) from None

    async def recv(self) -> tuple[dict[str, Any], str]:
        """The next server event and its JSON text (kept so the event log need not re-encode it)."""
        try:
            frame = await (self._socket.recv(decode=False) if self._socket is not None else self._connection.recv_bytes())
        except _closed_error() as closed:
            raise ConnectionLost(_describe(closed)) from None
        try:
            text = frame.decode("utf-8") if isinstance(frame, bytes) else frame
            event = parse_frame(text, frame if isinstance(frame, bytes) else None)
        except ValueError:
            event = None
        if not isinstance(event, dict):
            raise BadFrame(f"the server sent a frame that is not a JSON event object: {frame[:80]!r}")
        return event, text

    async def close(self) -> None:
        if self._connection is not None:
            try:
                await self._connection.close()
            except Exception:  # already gone: closing is best effort
                pass
            self._connection = None
            self._socket = None



class LiveConnection(Transport):
    """One GPT-Live WebSocket: the same frames as a Realtime one, dialled at `/v1/live/sessions`,
    or attached as the sideband of a session that already runs (`session_id`: a WebRTC or SIP call)."""

    def __init__(self, client: Any, *, session_id: str | None = None) -> None:
        super().__init__(client, model="", call_id=session_id)

    @property
    def url(self) -> str:
        base = str(self._websocket_base_url or self._client.base_url).rstrip("/")
        scheme, _, rest = base.partition("://")
        attach = f"/{self._call_id}/attach" if self._call_id is not None else ""
        return f"{_WEBSOCKET_SCHEMES.get(scheme, scheme)}://{rest}/live/sessions{attach}"

    gone = "the session {} is over (its sideband was refused with 404)"

    def _dial(self) -> Any:
        if self._call_id is not None:
            return self._client.live.sideband.connect(session_id=self._call_id)
        return self._client.live.connect()

_WEBSOCKET_SCHEMES = {"http": "ws", "https": "wss"}


def _json_parser() -> Any:
    """jiter's parser (the `openai` SDK's own dependency, 3-4x json.loads on these small objects) when importable."""
    try:
        from jiter import from_json
    except ImportError:
        return json.loads
    return lambda data: from_json(data, cache_mode="keys")


_parse_fast = _json_parser()


def parse_frame(text: str, data: bytes | None = None) -> Any:
    """A frame's JSON value (`data`: the same text as UTF-8, when the socket gave bytes), exactly as `json.loads(text)` reads it.

    jiter reads what json.loads reads, the same way, except that it refuses a lone
    surrogate escape ("\\ud83d" alone: an emoji's half, as a delta cut mid-character may
    carry); whatever it refuses goes to json.loads, which decides.
    """
    try:
        return _parse_fast(data if data is not None else text.encode("utf-8"))
    except ValueError:
        return json.loads(text)


def _websocket_of(connection: Any) -> Any:
    """The `websockets` client connection under the SDK's, or None (then the SDK's own methods are used)."""
    from websockets.asyncio.client import ClientConnection

    socket = getattr(connection, "_connection", None)
    return socket if isinstance(socket, ClientConnection) else None


_CLOSED: type[Exception] | None = None


def _closed_error() -> type[Exception]:
    """websockets' ConnectionClosed, imported on first use (an import statement per frame costs more than the frame)."""
    global _CLOSED
    if _CLOSED is None:
        from websockets.exceptions import ConnectionClosed

        _CLOSED = ConnectionClosed
    return _CLOSED


def _failure_text(failure: Exception) -> str:
    return str(failure) or type(failure).__name__


def _handshake_status(failure: Exception) -> int | None:
    """The HTTP status of a refused WebSocket handshake (websockets' InvalidStatus), else None."""
    response = getattr(failure, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def _describe(closed: Exception) -> str:
    received = getattr(closed, "rcvd", None)
    if received is None:
        return "the connection dropped without a close frame"
    return f"the server closed the connection (code {received.code}{': ' + received.reason if received.reason else ''})"
