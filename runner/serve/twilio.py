"""The Twilio Media Streams channel: a phone call's μ-law audio through our WebSocket.

- `POST /twilio/voice` (the number's voice webhook, signed) → TwiML that connects the
  call to `wss://<host>/twilio/media`, with the caller's number (`caller`), the number
  called (`called`) and the webhook's query string as `<Parameter>`s.
- `WS /twilio/media`: the upgrade must carry a valid `X-Twilio-Signature`; `start`'s
  `customParameters` that name declared variables become the conversation's template
  variables; the conversation runs in `audio/pcmu` both ways (no resampling), the
  caller's frames go in as they come, the agent's go out in 20 ms frames with marks
  (`twilio_playback.py`), and a barge-in clears Twilio's queue and truncates at what
  the marks say was heard.

Twilio's `stop` (or the socket closing) ends the conversation; a conversation that ends
itself (goodbye, time limit) lets its last words play, then hangs up through Twilio's
REST API. A handoff to an agent with `transfer_to` lets its one line play the same way,
then transfers the call through the REST API (new TwiML that dials the number or SIP
URI), which ends the stream. A `dtmf` message is a key press (`Conversation.press_key`):
a key the agent maps hands off, any other reaches the model as text. Settings come from the project's
environment: `TWILIO_AUTH_TOKEN` (signatures and REST), `TWILIO_PUBLIC_URL` (the origin
Twilio calls, when a proxy in front rewrites Host), `TWILIO_API_BASE_URL` (REST,
for a local fake), `TWILIO_SKIP_SIGNATURE=1` to accept unsigned requests when testing
locally (logged on every call), `TWILIO_INPUT_FRAMES` (default 1) caller frames per
`input_audio_buffer.append`: 5 sends a fifth of the events for ≤80 ms later VAD.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping
from xml.sax.saxutils import escape

from starlette.datastructures import ImmutableMultiDict
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from . import twilio_media
from runner.host.errors import CapacityError, SetupError

from .server import Server, error
from .twilio_playback import MarkedPlayback, thinking_sounds

if TYPE_CHECKING:
    from runner.host.conversation import Conversation

logger = logging.getLogger(__name__)

MEDIA_PATH = "/twilio/media"
PHONE_PARAMETERS = {"caller": "From", "called": "To"}  # <Parameter> name -> the voice webhook's field
DRAIN_SECONDS = 15.0  # how long a conversation that ended itself waits for its last words to play
SHUTDOWN_CLOSE = 1012  # the close code uvicorn sends its WebSockets when the server stops
TRUTHY = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class TwilioSettings:
    auth_token: str = ""
    api_base_url: str | None = None  # None: Twilio's own
    skip_signature: bool = False
    input_frames: int = 1  # caller frames (20 ms each) per input_audio_buffer.append
    public_url: str | None = None  # https://host the world calls us by; None: the request's Host header

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> TwilioSettings:
        return cls(
            auth_token=environ.get("TWILIO_AUTH_TOKEN", ""),
            api_base_url=environ.get("TWILIO_API_BASE_URL") or None,
            skip_signature=environ.get("TWILIO_SKIP_SIGNATURE", "").strip().lower() in TRUTHY,
            input_frames=_frames_setting(environ.get("TWILIO_INPUT_FRAMES", "1")),
            public_url=_public_url_setting(environ.get("TWILIO_PUBLIC_URL", "")),
        )

    def signature_problem(self, url: str, params: Mapping[str, Any], signature: str | None) -> str | None:
        """Why a request does not prove it came from Twilio for `url`, or None when it does."""
        from twilio.request_validator import RequestValidator

        if self.skip_signature:
            logger.warning("TWILIO_SKIP_SIGNATURE is set: %s accepted without checking X-Twilio-Signature (local testing only)", url)
            return None
        if not self.auth_token:
            return "TWILIO_AUTH_TOKEN is not set: the server cannot check X-Twilio-Signature (set it to the account's auth token)"
        if not signature:
            return f"no X-Twilio-Signature header: {url} only takes requests signed by Twilio"
        if not RequestValidator(self.auth_token).validate(url, params, signature):
            return f"X-Twilio-Signature does not match {url}: is TWILIO_AUTH_TOKEN this account's auth token, and the URL the one Twilio called?"
        return None


class TwilioRest:
    """Hang up or transfer a call through Twilio's REST API (the `twilio` package, in a thread)."""

    def __init__(self, settings: TwilioSettings) -> None:
        self.settings = settings

    def _call(self, account_sid: str, call_sid: str) -> Any:
        from twilio.rest import Client

        client = Client(account_sid, self.settings.auth_token)
        if self.settings.api_base_url:
            client.api.base_url = self.settings.api_base_url.rstrip("/")
        return client.api.v2010.accounts(account_sid).calls(call_sid)

    async def hangup(self, account_sid: str, call_sid: str) -> None:
        await self._update(account_sid, call_sid, status="completed")

    async def transfer(self, account_sid: str, call_sid: str, target: str, line: str = "") -> None:
        """Blind transfer: new TwiML for the call says `line`, then dials `target` (a number or a sip: URI)."""
        say = f"<Say>{escape(line)}</Say>" if line else ""
        noun = f"<Sip>{escape(target)}</Sip>" if target.startswith("sip:") else escape(target.removeprefix("tel:"))
        await self._update(account_sid, call_sid, twiml=f"<Response>{say}<Dial>{noun}</Dial></Response>")

    async def _update(self, account_sid: str, call_sid: str, **changes: str) -> None:
        from twilio.base.exceptions import TwilioException, TwilioRestException

        try:
            await asyncio.to_thread(lambda: self._call(account_sid, call_sid).update(**changes))
        except TwilioRestException as failure:
            if failure.status == 404:
                logger.debug("call %s was already over: %s", call_sid, failure.msg)
            else:
                logger.warning("call %s: Twilio refused %s: %s %s", call_sid, sorted(changes), failure.status, failure.msg)
        except (TwilioException, OSError) as failure:
            logger.warning("call %s: Twilio's REST API failed: %s", call_sid, failure)


def routes(server: Server) -> list[BaseRoute]:
    settings = TwilioSettings.from_environ(server.project.environ)
    rest = TwilioRest(settings)
    streams: set[TwilioStream] = set()

    async def voice(request: Request) -> Response:
        form = await _form(request)
        url = _public_url(request, request.url.scheme, settings.public_url)
        problem = settings.signature_problem(url, form, request.headers.get("x-twilio-signature"))
        if problem is not None:
            logger.warning("refused %s: %s", url, problem)
            return error(403, problem)
        if server.draining or server.running_host.open_count >= server.max_calls:
            return _twiml('<Reject reason="busy"/>')  # draining (the caller may ring again and reach another worker) or full
        query = dict(request.query_params)
        try:
            server.project.agents(text=False, variables=query, start=None)
        except SetupError as bad:
            return error(400, f"bad variables in the voice webhook's query: {bad}")
        parameters = {**{name: str(form.get(field, "")) for name, field in PHONE_PARAMETERS.items()}, **query}
        stream_url = _public_url(request, "wss", settings.public_url, path=MEDIA_PATH)
        tags = "".join(f'<Parameter name="{escape(name, _QUOTE)}" value="{escape(value, _QUOTE)}"/>' for name, value in parameters.items())
        return _twiml(f'<Connect><Stream url="{escape(stream_url, _QUOTE)}">{tags}</Stream></Connect>')

    async def media(websocket: WebSocket) -> None:
        url = _public_url(websocket, "wss", settings.public_url)
        problem = settings.signature_problem(url, {}, websocket.headers.get("x-twilio-signature"))
        if problem is not None:
            logger.warning("refused %s: %s", url, problem)
            await _deny(websocket, 403, problem)
            return
        await websocket.accept()
        stream = TwilioStream(server, rest, websocket)
        streams.add(stream)
        try:
            await stream.run()
        finally:
            streams.discard(stream)

    async def end_streams() -> None:
        await asyncio.gather(*(stream.shut_down() for stream in list(streams)), return_exceptions=True)

    server.on_close.append(end_streams)
    return [Route("/twilio/voice", voice, methods=["POST"]), WebSocketRoute(MEDIA_PATH, media)]


class TwilioStream:
    """One call's Media Stream: `start` → a conversation → `stop`, with the sink that tracks marks."""

    def __init__(self, server: Server, rest: TwilioRest, websocket: WebSocket) -> None:
        self.server = server
        self.rest = rest
        self.websocket = websocket
        self._outbox: asyncio.Queue[str | None] = asyncio.Queue()
        self._drained = asyncio.Event()
        self._done = asyncio.Event()
        self.conversation: Conversation | None = None
        self.sink: MarkedPlayback | None = None

    async def run(self) -> None:
        writer = asyncio.get_running_loop().create_task(self._write())
        try:
            start = await self._start()
            if start is not None:
                await self._converse(start)
        finally:
            self._outbox.put_nowait(None)
            await writer
            if self.websocket.application_state is WebSocketState.CONNECTED:
                with contextlib.suppress(WebSocketDisconnect, RuntimeError):  # the caller's side may already be gone
                    await self.websocket.close()
            self._done.set()

    async def shut_down(self) -> None:
        """The server is stopping: end the conversation (its report is written) and wait for it."""
        if self.conversation is not None and not self.conversation.ended:
            self.conversation.end_reason = "the server shut down"
            self.conversation.stop_now("the server shut down")
        await self._done.wait()

    async def _start(self) -> twilio_media.Start | None:
        """Read up to `start`; anything else first is logged and the stream closed."""
        async for text in self.websocket.iter_text():
            try:
                message = twilio_media.parse(text)
            except twilio_media.TwilioMessageError as bad:
                logger.warning("twilio stream: %s", bad)
                continue
            if isinstance(message, twilio_media.Start):
                problem = message.format_problem()
                if problem is None:
                    return message
                logger.error("call %s: %s", message.call_sid, problem)
                await self.websocket.close(1003, problem[:120])
                return None
            if not isinstance(message, twilio_media.Connected):
                logger.warning("twilio stream: %r came before 'start'; ignored", message)
        return None

    async def _converse(self, start: twilio_media.Start) -> None:
        declared = self.server.project.config.variables
        variables = {name: value for name, value in start.custom_parameters.items() if name in declared}
        host = self.server.running_host
        sink = self.sink = MarkedPlayback(start.stream_sid, self._outbox.put_nowait, self._item_played,
                                          sounds=thinking_sounds(self.server.project.config))
        transfer: list[str] = []  # the person's URI, once the agent standing for them said its line

        def on_record(record: Any, t: float) -> None:
            sink.on_record(record, t)
            _note_transfer(record, transfer)

        try:
            async with host.open(variables=variables, session_dir=self.server.session_dir, audio_format="audio/pcmu", channel="twilio",
                                 on_record=on_record, records=False) as conversation:
                self.conversation = conversation
                conversation.attach_audio(sink)
                logger.info("call %s: conversation %s (artifacts in %s)", start.call_sid, conversation.id, conversation.folder)
                reading = asyncio.get_running_loop().create_task(self._read(conversation, sink))
                ending = asyncio.get_running_loop().create_task(conversation.driver.wait_ended())
                await asyncio.wait({reading, ending}, return_when=asyncio.FIRST_COMPLETED)
                if reading.done():  # the caller hung up, mid-reply perhaps: the transcript keeps what they heard of it
                    reason = reading.result()
                    if not conversation.ended:
                        driver = conversation.driver
                        driver.apply(conversation.core.interrupt(driver.now()))
                        conversation.end_reason = reason
                        conversation.stop_now(reason)
                    ending.cancel()
                else:  # the conversation ended itself: let its last words play, then transfer the call or hang up
                    await self._drain(reading)
                    if transfer:
                        await self.rest.transfer(start.account_sid, start.call_sid, transfer[-1])
                    else:
                        await self.rest.hangup(start.account_sid, start.call_sid)
                    reading.cancel()
                await asyncio.gather(reading, ending, return_exceptions=True)
        except CapacityError as full:
            logger.warning("call %s refused: %s", start.call_sid, full)
            await self.websocket.close(1013, "the server is at capacity")
        except SetupError as failure:
            logger.error("call %s: %s", start.call_sid, failure)
            await self.websocket.close(1011, str(failure)[:120])

    async def _read(self, conversation: Conversation, sink: MarkedPlayback) -> str:
        """Caller audio in (`input_frames` at a time), mark echoes to the sink; returns why the stream ended."""
        held, batch = bytearray(), self.rest.settings.input_frames * 160
        while True:
            received = await self.websocket.receive()
            if received["type"] == "websocket.disconnect":
                return "the server shut down" if received.get("code") == SHUTDOWN_CLOSE else "the stream closed"
            try:
                message = twilio_media.parse(received.get("text") or received.get("bytes") or b"")
            except twilio_media.TwilioMessageError as bad:
                logger.warning("conversation %s: %s", conversation.id, bad)
                continue
            if isinstance(message, twilio_media.Media):
                if message.track == "inbound" and not conversation.ended:
                    held += message.payload
                    if len(held) >= batch:
                        await conversation.send_audio(bytes(held))
                        held.clear()
            elif isinstance(message, twilio_media.Mark):
                sink.acknowledge(message.name)
                if sink.pending_marks == 0:
                    self._drained.set()
            elif isinstance(message, twilio_media.Dtmf):
                if not conversation.ended:
                    conversation.press_key(message.digit)
            elif isinstance(message, twilio_media.Stop):
                return "hung up by the caller"
            else:
                logger.debug("conversation %s: %r ignored", conversation.id, message)

    def _item_played(self, item_id: str) -> None:
        if self.conversation is not None:
            self.conversation.audio_played(item_id)

    async def _drain(self, reading: asyncio.Task[str]) -> None:
        """Wait (bounded) until Twilio has echoed every mark, or the caller is gone."""
        if self.sink is None or self.sink.pending_marks == 0:
            return
        self._drained.clear()
        drained = asyncio.get_running_loop().create_task(self._drained.wait())
        await asyncio.wait({drained, reading}, timeout=DRAIN_SECONDS, return_when=asyncio.FIRST_COMPLETED)
        drained.cancel()

    async def _write(self) -> None:
        """One sender: frames go out in the order the sink produced them."""
        while (text := await self._outbox.get()) is not None:
            try:
                await self.websocket.send_text(text)
            except (WebSocketDisconnect, RuntimeError, OSError):  # the socket is gone: the reader ends the call
                return


_QUOTE = {'"': "&quot;"}


def _note_transfer(record: Any, transfer: list[str]) -> None:
    """Keep the URI of a CallTransferRequested: the call goes there once the line has played."""
    from runner.core.records import CallTransferRequested

    if isinstance(record, CallTransferRequested):
        transfer.append(record.target_uri)


def _frames_setting(text: str) -> int:
    """TWILIO_INPUT_FRAMES: 1 (every 20 ms frame as it comes) to 10 (200 ms per append: fewer events, later VAD)."""
    if not text.strip().isdigit() or not 1 <= int(text) <= 10:
        raise SetupError(f"TWILIO_INPUT_FRAMES must be a whole number from 1 to 10 (20 ms frames per append), not {text!r}")
    return int(text)


async def _form(request: Request) -> ImmutableMultiDict[str, str]:
    """The webhook's urlencoded fields (read here: starlette's form parser needs python-multipart)."""
    body = await request.body()
    return ImmutableMultiDict(urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def _twiml(body: str) -> Response:
    return Response(f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>', media_type="text/xml")


def _public_url(request: Request | WebSocket, scheme: str, public: str | None, *, path: str | None = None) -> str:
    """The URL Twilio called (and signed): TWILIO_PUBLIC_URL's origin when set, else the Host header
    with the scheme Twilio used (a proxy in front may end TLS); then the path and query."""
    if public is not None:
        origin = urllib.parse.urlsplit(public)
        scheme, host = ("wss" if scheme == "wss" else origin.scheme), origin.netloc
    else:
        forwarded = request.headers.get("x-forwarded-proto")
        if forwarded and scheme in ("http", "https"):
            scheme = forwarded.split(",")[0].strip()
        host = request.headers.get("host", request.url.netloc)
    if path is not None:
        return f"{scheme}://{host}{path}"
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{scheme}://{host}{request.url.path}{query}"


def _public_url_setting(text: str) -> str | None:
    """TWILIO_PUBLIC_URL: an https origin such as https://phone.example.com, or unset."""
    if not text.strip():
        return None
    parts = urllib.parse.urlsplit(text.strip())
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.path not in ("", "/") or parts.query:
        raise SetupError(f"TWILIO_PUBLIC_URL must be an origin such as https://phone.example.com (no path), not {text!r}")
    return f"{parts.scheme}://{parts.netloc}"


async def _deny(websocket: WebSocket, status: int, message: str) -> None:
    """Refuse the upgrade with an HTTP answer that says why (a plain 403 where the server cannot)."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(JSONResponse({"error": message}, status_code=status))
    else:
        await websocket.close(1008)
