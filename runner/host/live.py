"""A conversation on GPT-Live: its core and its connection, for `Conversation` to drive.

The connection dials `/v1/live/sessions` through the SDK's `client.live.connect()` (no
query string: the model goes in `session.start`) and, like `transport.Transport`, moves
raw JSON: the core's events are checked when they are compiled, not re-transformed here.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from .errors import BadFrame, ConnectFailed, ConnectionLost, SetupError


_WEBSOCKET_SCHEMES = {"http": "ws", "https": "wss"}


class LiveConnection:
    """One GPT-Live WebSocket; the driver's `Connection` protocol."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._connection: Any = None

    @property
    def url(self) -> str:
        base = str(self._client.websocket_base_url or self._client.base_url).rstrip("/")
        scheme, _, rest = base.partition("://")
        return f"{_WEBSOCKET_SCHEMES.get(scheme, scheme)}://{rest}/live/sessions"

    async def connect(self) -> None:
        try:
            self._connection = await self._client.live.connect().enter()
        except Exception as failure:  # refused, unresolvable, handshake rejected or timed out
            raise ConnectFailed(f"cannot connect to {self.url}: {failure or type(failure).__name__}") from None

    async def send_text(self, text: str) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            await self._connection.send_raw(text)
        except ConnectionClosed as closed:
            raise ConnectionLost(_describe(closed)) from None

    async def recv(self) -> tuple[dict[str, Any], str]:
        from websockets.exceptions import ConnectionClosed

        try:
            frame = await self._connection.recv_bytes()
        except ConnectionClosed as closed:
            raise ConnectionLost(_describe(closed)) from None
        try:
            text = frame.decode("utf-8") if isinstance(frame, bytes) else frame
            event = json.loads(text)
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


def open_live(project: Any, transport: Any, *, values: Mapping[str, Any], start: str, text: bool, session_id: str) -> tuple[Any, LiveConnection]:
    """The Live core and connection of one conversation (the project's target is live)."""
    from ..compile import CompileError
    from ..compile_live import compile_live
    from ..core.live import GptLiveSession

    config = project.config
    try:
        program = compile_live(config, values=values, guardrails_enabled=project.guardrails_enabled, environ=project.environ)
    except CompileError as error:
        raise SetupError("; ".join(error.messages)) from None
    core = GptLiveSession(program.agents, start, guardrails=project.policies, limits=config.limits, session_id=session_id, audio=not text)
    return core, LiveConnection(transport.rest_client())


def _describe(closed: Exception) -> str:
    received = getattr(closed, "rcvd", None)
    if received is None:
        return "the connection dropped without a close frame"
    return f"the server closed the connection (code {received.code}{': ' + received.reason if received.reason else ''})"
