"""`Simulator`: the offline stand-in for the OpenAI Realtime service (and its REST friends).

A WebSocket server on 127.0.0.1 speaking the GA protocol at `/v1/realtime`, plus the
fake REST server for moderation and classification, so a whole session, guardrails
included, runs with no network and no API key.
"""

from __future__ import annotations

import collections
import http
import json
import re
from pathlib import Path
from typing import Any, Iterable, Mapping
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from . import hearing
from .brain import Output, parse_script_action
from .calls import MEDIA_TIMEOUT, CallRegistry
from .connection import SimConnection
from .rest import RestSimulator
from .rule_file import RuleSet, load_rules, parse_rules
from .session_config import DEFAULT_MODEL

BETA_MESSAGE = "The Realtime Beta API is no longer supported. Please use /v1/realtime for the GA API."
BETA_CLOSE_CODE = 4000
LIVE_PATH = "/v1/live/sessions"  # GPT-Live: runner/sim/live.py
LIVE_ATTACH = re.compile(r"^/v1/live/sessions/([^/]+)/attach$")  # a GPT-Live call's sideband: runner/sim/live_call.py


class Simulator:
    """`async with Simulator("techcorp") as sim:` then connect to `sim.ws_base_url`.

    `rules`: a bundled rule set's name, a path, a parsed `RuleSet`, or None for no rules
    (every turn gets the default reply, every tool output a summary sentence).
    `drop_after_events`: abort the first connection's socket (no close frame) after it
    has sent that many server events; later connections behave.
    `chunk_ms`: size of each audio delta.  `reply_delay`: seconds between
    `response.created` and the first output.  `audio_pace`: None streams audio as fast
    as the socket takes it; a number paces it at that many times real time.
    """

    def __init__(
        self,
        rules: str | Path | RuleSet | None = None,
        *,
        drop_after_events: int | None = None,
        chunk_ms: int = 100,
        reply_delay: float = 0.0,
        audio_pace: float | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        rest_port: int = 0,
        media_timeout: float = MEDIA_TIMEOUT,
    ) -> None:
        if isinstance(rules, RuleSet):
            self.rules = rules
        elif rules is None:
            self.rules = parse_rules("rules: []\n", "<no rules>")
        else:
            self.rules = load_rules(rules)
        self.drop_after_events = drop_after_events
        self.chunk_ms = chunk_ms
        self.reply_delay = reply_delay
        self.audio_pace = audio_pace
        self.host, self.port = host, port
        self.rest = RestSimulator(host=host, port=rest_port)
        self.calls = CallRegistry(self, media_timeout=media_timeout)  # WebRTC calls (runner/sim/calls.py)
        self.rest.calls_api = self
        self.connections: list[SimConnection] = []
        self._server: Server | None = None
        self._scripted: collections.deque[tuple[Output, ...]] = collections.deque()
        self._user_transcripts: collections.deque[str] = collections.deque()

    @property
    def ws_base_url(self) -> str:
        """`ws://127.0.0.1:P/v1`: give it to `AsyncOpenAI(websocket_base_url=...)`."""
        if self._server is None:
            raise RuntimeError("the simulator is not started")
        return f"ws://{self.host}:{self._server.sockets[0].getsockname()[1]}/v1"

    @property
    def http_base_url(self) -> str:
        """`http://127.0.0.1:Q/v1`: the fake REST API (moderations, responses)."""
        return self.rest.base_url

    @property
    def received(self) -> list[list[dict[str, Any]]]:
        """Every client event each connection received, in order (one list per connection)."""
        return [conn.received for conn in self.connections]

    @property
    def sent(self) -> list[list[dict[str, Any]]]:
        """Every server event each connection sent, in order (one list per connection)."""
        return [conn.sent for conn in self.connections]

    def script(self, actions: Iterable[Mapping[str, Any]]) -> None:
        """Queue what the model does on the next responses, one action per response.

        `{"say": text}`, `{"call": {"name", "args"}}` or `{"calls": [...]}`; scripted
        actions win over the rules, and scripted calls are sent even for tools the
        session does not offer (that is how an invalid handoff is tested).
        """
        parsed = [parse_script_action(action) for action in actions]
        self._scripted.extend(parsed)

    def expect_user_audio(self, text: str) -> None:
        """What the simulated model "hears" in the next committed user audio turn."""
        self._user_transcripts.append(text)

    def next_scripted_response(self) -> tuple[Output, ...] | None:
        return self._scripted.popleft() if self._scripted else None

    def next_user_transcript(self) -> str:
        return self._user_transcripts.popleft() if self._user_transcripts else self.rules.user_transcript

    def expected_user_transcript(self) -> str | None:
        """The next `expect_user_audio` text, or the rule file's fixed one; None: listen to the audio."""
        if self._user_transcripts:
            return self._user_transcripts.popleft()
        return self.rules.user_transcript if self.rules.scripted_hearing or not hearing.available() else None

    async def start(self) -> None:
        await self.rest.start()
        self._server = await serve(
            self._handle, self.host, self.port, process_request=self._check_request,
            max_size=None, compression=None, ping_interval=None,
        )

    async def close(self) -> None:
        await self.calls.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        await self.rest.close()

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """Refuse what the service refuses before the upgrade: wrong path, no API key."""
        path = urlsplit(request.path).path.rstrip("/")
        attach = LIVE_ATTACH.match(path)
        if path not in ("/v1/realtime", LIVE_PATH) and attach is None:
            return _http_error(http.HTTPStatus.NOT_FOUND, f"Invalid URL (GET {urlsplit(request.path).path})", "invalid_request_error")
        if path == LIVE_PATH and urlsplit(request.path).query:
            return _http_error(http.HTTPStatus.BAD_REQUEST, "GPT-Live takes no query parameters: the model goes in session.start.", "invalid_request_error")
        authorization = request.headers.get("Authorization", "")
        if not authorization.startswith("Bearer ") or not authorization[7:].strip():
            return _http_error(http.HTTPStatus.UNAUTHORIZED, "You didn't provide an API key.", "invalid_request_error")
        if attach is not None and self.calls.get(attach.group(1)) is None:
            return _http_error(http.HTTPStatus.NOT_FOUND, f"Live session with id '{attach.group(1)}' not found.", "invalid_request_error")
        call_id = parse_qs(urlsplit(request.path).query).get("call_id", [None])[0]
        if call_id is not None and self.calls.get(call_id) is None:
            return _http_error(http.HTTPStatus.NOT_FOUND, f"Call with id '{call_id}' not found.", "invalid_request_error")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        first = not self.connections
        attach = LIVE_ATTACH.match(urlsplit(ws.request.path).path.rstrip("/"))
        if attach is not None:  # a GPT-Live call's sideband (runner/sim/live_call.py)
            live_call = self.calls.get(attach.group(1))
            if live_call is None:  # it ended during the handshake
                await ws.close(1000, "session ended")
            else:
                await live_call.attach(ws)
            return
        if urlsplit(ws.request.path).path.rstrip("/") == LIVE_PATH:
            from .live import LiveSimConnection

            live = LiveSimConnection(self, ws, drop_after_events=self.drop_after_events if first else None)
            self.connections.append(live)  # type: ignore[arg-type]
            await live.serve()
            return
        query = parse_qs(urlsplit(ws.request.path).query)
        if "call_id" in query:  # a sideband socket: the call's own session, not a new one
            call = self.calls.get(query["call_id"][0])
            if call is None:  # it ended during the handshake
                await ws.close(1000, "call ended")
            else:
                await call.attach(ws)
            return
        model = query.get("model", [DEFAULT_MODEL])[0]
        conn = SimConnection(self, ws, model, drop_after_events=self.drop_after_events if first else None)
        self.connections.append(conn)
        if ws.request.headers.get("OpenAI-Beta"):
            await conn.error("beta_api_shape_disabled", BETA_MESSAGE)
            await ws.close(BETA_CLOSE_CODE, "beta_api_shape_disabled")
            return
        await conn.serve()


def _http_error(status: http.HTTPStatus, message: str, error_type: str) -> Response:
    body = json.dumps({"error": {"message": message, "type": error_type, "param": None, "code": None}}).encode()
    headers = Headers([("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return Response(status.value, status.phrase, headers, body)
