"""One Realtime WebSocket connection, raw JSON in and out.

We dial the socket ourselves with `websockets`, to the same URL and with the same
headers the `openai` SDK would use (its `Authorization`, User-Agent and X-Stainless
headers, no beta header, no compression): the SDK's own dial builds that URL through
several rounds of httpx URL parsing and looks the proxy up in the environment again,
which together made up about a fifth of what opening a conversation cost. The
headers and the proxy are worked out once per client.

We send pre-validated dicts as JSON text and parse frames with jiter ourselves: the
SDK's `send` re-transforms every event through its TypedDicts and its `recv` builds
pydantic objects without validating them, both pure overhead on the hot path (audio
deltas arrive dozens of times a second).

GPT-Live (`LiveConnection`) still dials through the SDK, and uses the `websockets`
connection under it when the SDK keeps one as `_connection` (openai 3.54-3.57, pinned
in requirements.lock); otherwise every frame goes through the SDK's `send_raw`/`recv_bytes`.
"""

from __future__ import annotations

import json
import weakref
from typing import Any, Sequence

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
        self._socket: Any = None  # the `websockets` connection, when we have one
        self._connection: Any = None  # the SDK's connection, when the SDK dialled (GPT-Live)

    @property
    def url(self) -> str:
        """The WebSocket URL the SDK dials, for messages (it carries no credentials)."""
        base = str(self._websocket_base_url or self._client.base_url).rstrip("/")
        scheme, _, rest = base.partition("://")
        target = f"call_id={self._call_id}" if self._call_id is not None else f"model={self._model}"
        return f"{_WEBSOCKET_SCHEMES.get(scheme, scheme)}://{rest}/realtime?{target}"

    gone = "the call {} is over (its sideband was refused with 404)"

    async def _dial(self) -> None:
        """Open `self._socket` (GA endpoint, no beta header)."""
        url = self.url
        self._socket = await _open_websocket(url, *_dial_settings(self._client, url))

    async def connect(self) -> None:
        try:
            await self._dial()
        except Exception as failure:  # refused, unresolvable, redirected, handshake rejected or timed out
            if self._call_id is not None and _handshake_status(failure) == 404:
                raise CallGone(self.gone.format(self._call_id)) from None
            raise ConnectFailed(f"cannot connect to {self.url}: {_failure_text(failure)}") from None

    async def send_texts(self, texts: Sequence[str]) -> None:
        """Send client events already serialised as JSON, in order, in one write to the socket.

        The events one step of the core makes go out together (a user message and its
        `response.create`, a tool output and the next `response.create`): on this kind of
        virtual machine each `send` system call costs about a tenth of a millisecond.
        """
        try:
            socket = self._socket
            if socket is not None:
                async with socket.send_context():  # what websockets' own `send` does, for several frames at once
                    protocol = socket.protocol
                    for text in texts:
                        protocol.send_text(text.encode())
                    # websockets writes each frame on its own; one write here (the state is OPEN inside
                    # the context, so nothing pending is the end-of-stream marker it half-closes on)
                    socket.transport.writelines(protocol.data_to_send())
            else:
                for text in texts:
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
        closing = self._connection if self._connection is not None else self._socket
        self._connection = self._socket = None
        if closing is not None:
            try:
                await closing.close()
            except Exception:  # already gone: closing is best effort
                pass


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

    async def _dial(self) -> None:
        manager = self._client.live.sideband.connect(session_id=self._call_id) if self._call_id is not None else self._client.live.connect()
        self._connection = await manager.enter()
        self._socket = _websocket_of(self._connection)


_WEBSOCKET_SCHEMES = {"http": "ws", "https": "wss"}
_DIAL_SETTINGS: weakref.WeakKeyDictionary[Any, tuple[dict[str, str], str | None]] = weakref.WeakKeyDictionary()


def _dial_settings(client: Any, url: str) -> tuple[dict[str, str], str | None]:
    """The handshake headers the SDK sends for `client` and the proxy for its host, once per client."""
    settings = _DIAL_SETTINGS.get(client)
    if settings is None:
        from websockets.uri import get_proxy, parse_uri

        merged = {key.lower(): (key, value) for key, value in {**client.default_headers, **client.auth_headers}.items() if isinstance(value, str)}
        settings = _DIAL_SETTINGS[client] = (dict(merged.values()), get_proxy(parse_uri(url)))
    return settings


_NO_REDIRECTS: type | None = None


async def _open_websocket(url: str, headers: dict[str, str], proxy: str | None) -> Any:
    """websockets' `connect` as the SDK calls it, but refusing redirects: one would carry the API key wherever the server names."""
    global _NO_REDIRECTS
    if _NO_REDIRECTS is None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import SecurityError

        class NoRedirects(connect):
            def process_redirect(self, exc: Exception) -> Exception | str:
                """websockets asks this of every failed handshake; a redirect comes back as the URL to follow."""
                followed = super().process_redirect(exc)
                if isinstance(followed, str):
                    return SecurityError(f"the server redirected the handshake ({exc}); runner does not follow redirects")
                return followed

        _NO_REDIRECTS = NoRedirects
    return await _NO_REDIRECTS(url, additional_headers=headers, user_agent_header=None, compression=None, max_size=None, proxy=proxy)


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
