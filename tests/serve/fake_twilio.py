"""A fake Twilio on 127.0.0.1: a phone call over Media Streams, and the REST API's call updates.

`FakeTwilioCall` does what Twilio does for one call: POSTs the signed voice webhook,
reads the TwiML's `<Stream>` and `<Parameter>`s, opens the signed WebSocket, sends
`connected`, `start` and a 20 ms `media` frame of μ-law on its own clock (the caller's
audio queued with `say`, silence otherwise, as a phone line does), and plays what it
is sent on the same clock: a `mark` is echoed only once the audio before it has played,
`clear` drops the queued audio and echoes the marks waiting behind it. It records what
it heard (`heard`: frames with the time each finished), every clear (`clears`) and
every echo (`echoes`). `speed` runs both clocks faster than real time.

`FakeTwilioRest` answers `POST /2010-04-01/Accounts/<AC>/Calls/<CA>.json` as the REST
API does; a `Status=completed` ends the stream of a call it knows (Twilio sends `stop`).

Its JSON is written here by hand from Twilio's documentation, never with the runner's
serializer, so a mistake there cannot hide behind the same mistake here.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import socket
import secrets
import struct
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

FRAME_MS = 20
FRAME_BYTES = 160
SILENCE = b"\xff" * FRAME_BYTES
ACCOUNT_SID = "AC" + "0" * 32


def ulaw_wav(path: Path) -> bytes:
    """The μ-law samples of an 8 kHz mono μ-law WAV (format tag 7), checked."""
    data = path.read_bytes()
    tag, channels, rate = struct.unpack_from("<HHI", data, 20)
    if (tag, channels, rate) != (7, 1, 8000):
        raise ValueError(f"{path}: a phone line carries μ-law 8 kHz mono, not format {tag} {rate} Hz {channels} channel(s)")
    at = data.index(b"data")
    return data[at + 8 : at + 8 + struct.unpack_from("<I", data, at + 4)[0]]


def write_ulaw_wav(path: Path, ulaw: bytes) -> Path:
    header = struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + len(ulaw), b"WAVE", b"fmt ", 16, 7, 1, 8000, 8000, 1, 8, b"data", len(ulaw))
    path.write_bytes(header + ulaw)
    return path


@dataclass
class Clear:
    at: float
    frames_heard: int  # frames played to the end before the clear arrived
    marks_dropped: int


@dataclass
class FakeTwilioCall:
    base_url: str  # http://127.0.0.1:P of the app
    auth_token: str
    caller: str = "+15550001234"
    called: str = "+15550009876"
    speed: float = 1.0
    wav: Path | None = None  # the caller's audio from the start, before anything `say` adds
    query: dict[str, str] = field(default_factory=dict)
    public_url: str | None = None  # the number's webhook origin as configured at Twilio (default: base_url)
    call_sid: str = field(default_factory=lambda: "CA" + secrets.token_hex(16))
    stream_sid: str = field(default_factory=lambda: "MZ" + secrets.token_hex(16))
    heard: list[tuple[float, bytes]] = field(default_factory=list)
    clears: list[Clear] = field(default_factory=list)
    echoes: list[tuple[str, bool]] = field(default_factory=list)  # (mark name, True: echoed because a clear dropped it)
    received: list[dict[str, Any]] = field(default_factory=list)  # every message from the server, in order
    twiml: str = ""
    parameters: dict[str, str] = field(default_factory=dict)
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self._caller_audio = bytearray(ulaw_wav(self.wav) if self.wav else b"")
        self._queue: list[tuple[str, Any]] = []  # ("audio", frame) | ("mark", name), in arrival order
        self._wake = asyncio.Event()
        self._changed = asyncio.Condition()
        self._sequence = 0
        self._clear_count = 0
        self._socket: ClientConnection | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._send_lock = asyncio.Lock()

    # -- what a test does ----------------------------------------------------------
    async def dial(self) -> bool:
        """The voice webhook, then the Media Stream it names, then connected and start; False when the TwiML names none."""
        form = {"CallSid": self.call_sid, "AccountSid": ACCOUNT_SID, "From": self.caller, "To": self.called, "Direction": "inbound", "CallStatus": "ringing"}
        path = "/twilio/voice" + (f"?{urllib.parse.urlencode(self.query)}" if self.query else "")
        signature = RequestValidator(self.auth_token).compute_signature(f"{self.public_url or self.base_url}{path}", form)
        async with httpx.AsyncClient(timeout=30) as http:
            answer = await http.post(f"{self.base_url}{path}", data=form, headers={"X-Twilio-Signature": signature})
        assert answer.status_code == 200, answer.text
        self.twiml = answer.text
        stream = re.search(r'<Stream url="([^"]+)"', self.twiml)
        if stream is None:  # <Reject>, say
            return False
        stream_url = stream.group(1)
        self.parameters = dict(re.findall(r'<Parameter name="([^"]*)" value="([^"]*)"/>', self.twiml))
        reach = self.base_url.replace("http://", "ws://", 1) + urllib.parse.urlsplit(stream_url).path  # where the stream's host resolves to
        self._socket = await connect(reach, additional_headers={"X-Twilio-Signature": sign_stream(self.auth_token, stream_url)})
        await self._send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        await self._send({"event": "start", "sequenceNumber": self._next(), "streamSid": self.stream_sid, "start": {
            "accountSid": ACCOUNT_SID, "streamSid": self.stream_sid, "callSid": self.call_sid, "tracks": ["inbound"],
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}, "customParameters": self.parameters}})
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._speak()), loop.create_task(self._listen()), loop.create_task(self._play())]
        return True

    def say(self, ulaw: bytes) -> None:
        """The caller says this next (μ-law 8 kHz)."""
        self._caller_audio += ulaw

    @property
    def saying(self) -> bool:
        return bool(self._caller_audio)

    async def hang_up(self) -> None:
        """The caller hangs up: Twilio sends `stop` and closes the socket."""
        if self._socket is not None and not self.closed.is_set():
            await self._send({"event": "stop", "sequenceNumber": self._next(), "streamSid": self.stream_sid,
                              "stop": {"accountSid": ACCOUNT_SID, "callSid": self.call_sid}})
            await self._socket.close()
        await self.close()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._socket is not None:
            await self._socket.close()
        self.closed.set()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), timeout)

    # -- Twilio's side -------------------------------------------------------------
    def _next(self) -> str:
        self._sequence += 1
        return str(self._sequence)

    async def _send(self, message: dict[str, Any]) -> None:
        assert self._socket is not None
        async with self._send_lock:
            try:
                await self._socket.send(json.dumps(message))
            except ConnectionClosed:  # the server ended the stream: what is left to say goes nowhere, as on a real line
                pass

    async def _changed_now(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _speak(self) -> None:
        """A media frame every 20 ms (of the fake's clock): the caller's audio, or the line's silence."""
        loop = asyncio.get_running_loop()
        started, chunk = loop.time(), 0
        while True:
            frame = bytes(self._caller_audio[:FRAME_BYTES]).ljust(FRAME_BYTES, b"\xff")
            del self._caller_audio[:FRAME_BYTES]
            chunk += 1
            await self._send({"event": "media", "sequenceNumber": self._next(), "streamSid": self.stream_sid, "media": {
                "track": "inbound", "chunk": str(chunk), "timestamp": str(chunk * FRAME_MS), "payload": base64.b64encode(frame).decode("ascii")}})
            await asyncio.sleep(max(0.0, started + chunk * FRAME_MS / 1000 / self.speed - loop.time()))

    async def _listen(self) -> None:
        assert self._socket is not None
        try:
            async for text in self._socket:
                message = json.loads(text)
                self.received.append(message)
                kind = message["event"]
                assert message["streamSid"] == self.stream_sid, message
                if kind == "media":
                    payload = base64.b64decode(message["media"]["payload"])
                    self._queue.append(("audio", payload))
                elif kind == "mark":
                    self._queue.append(("mark", message["mark"]["name"]))
                elif kind == "clear":
                    self._clear_count += 1
                    dropped = [value for what, value in self._queue if what == "mark"]
                    self._queue.clear()
                    self.clears.append(Clear(asyncio.get_running_loop().time(), len(self.heard), len(dropped)))
                    for name in dropped:
                        await self._echo(name, cleared=True)
                else:
                    raise AssertionError(f"Twilio does not take {kind!r} messages on a stream: {message}")
                self._wake.set()
                await self._changed_now()
        except Exception:  # the server closed the stream (or broke the protocol: the assertion is in `received`)
            pass
        finally:
            self.closed.set()
            await self._changed_now()

    async def _play(self) -> None:
        """Play queued frames in real time; echo a mark once everything before it has played."""
        loop = asyncio.get_running_loop()
        while True:
            while self._queue and self._queue[0][0] == "mark":
                await self._echo(self._queue.pop(0)[1], cleared=False)
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            frame = self._queue.pop(0)[1]
            clears = self._clear_count
            await asyncio.sleep(FRAME_MS / 1000 / self.speed)
            if clears == self._clear_count:  # a clear stops the frame playing too
                self.heard.append((loop.time(), frame))
                await self._changed_now()

    async def _echo(self, name: str, *, cleared: bool) -> None:
        self.echoes.append((name, cleared))
        await self._send({"event": "mark", "sequenceNumber": self._next(), "streamSid": self.stream_sid, "mark": {"name": name}})


def sign_stream(auth_token: str, stream_url: str) -> str:
    """Twilio signs the WebSocket upgrade like a GET: the URL alone, no parameters."""
    return RequestValidator(auth_token).compute_signature(stream_url, {})


class FakeTwilioRest:
    """The calls part of Twilio's REST API; `updates` holds (call sid, form, Authorization header)."""

    def __init__(self) -> None:
        self.updates: list[tuple[str, dict[str, str], str]] = []
        self.calls: dict[str, FakeTwilioCall] = {}
        self.base_url = ""
        self.changed = asyncio.Event()

    async def _update(self, request: Request) -> Response:
        sid = request.path_params["call_sid"]
        form = dict(urllib.parse.parse_qsl((await request.body()).decode()))
        self.updates.append((sid, form, request.headers.get("authorization", "")))
        self.changed.set()
        call = self.calls.get(sid)
        if call is None:
            return JSONResponse({"code": 20404, "message": f"The requested resource /Calls/{sid}.json was not found", "status": 404}, status_code=404)
        if form.get("Status") == "completed" or "Twiml" in form:
            asyncio.get_running_loop().create_task(call.hang_up())
        return JSONResponse({"sid": sid, "account_sid": request.path_params["account_sid"], "status": form.get("Status", "in-progress")})

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[FakeTwilioRest]:
        app = Starlette(routes=[Route("/2010-04-01/Accounts/{account_sid}/Calls/{call_sid}.json", self._update, methods=["POST"])])
        async with serve_app(app) as base_url:
            self.base_url = base_url
            yield self


@contextlib.asynccontextmanager
async def serve_app(app: Any) -> AsyncIterator[str]:
    """An ASGI app on uvicorn in this event loop, on a free port of 127.0.0.1; yields its base URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", ws_max_size=1 << 20))
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[listener]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
