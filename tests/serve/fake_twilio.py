"""A fake Twilio on 127.0.0.1: a phone call over Media Streams, and the REST API's call updates.

`FakeTwilioCall` does what Twilio does for one call: POSTs the signed voice webhook,
reads the TwiML's `<Stream>` and `<Parameter>`s, opens the signed WebSocket, sends
`connected`, `start` and a 20 ms `media` frame of μ-law on its own clock (the caller's
audio queued with `say`, silence otherwise, as a phone line does), and plays what it
is sent on the same clock, a frame each 20 ms tick: a `mark` is echoed only once the
audio before it has played, `clear` drops the queued audio and the frame playing and
echoes the marks waiting behind them. It records what it heard (`heard`: frames with the
time each finished), every clear (`clears`) and every echo (`echoes`). `speed` runs the
clock faster than real time; `press` sends a keypad press (`dtmf`). The clock is
absolute, as a phone line's is: ticks a busy event loop delayed are caught up, never
stretched. The WebSocket (`fake_twilio_socket.py`) offers no permessage-deflate, as
Twilio's upgrade does not.

`FakeTwilioRest` answers `POST /2010-04-01/Accounts/<AC>/Calls/<CA>.json` as the REST
API does; a `Status=completed` ends the stream of a call it knows (Twilio sends `stop`).

Its JSON is written here by hand from Twilio's documentation, never with the runner's
serializer, so a mistake there cannot hide behind the same mistake here.
"""

from __future__ import annotations

import asyncio
import base64
import collections
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

from tests.serve.fake_twilio_socket import LineSocket

FRAME_MS = 20
FRAME_BYTES = 160
SILENCE = b"\xff" * FRAME_BYTES
SILENCE_PAYLOAD = base64.b64encode(SILENCE).decode("ascii")
ACCOUNT_SID = "AC" + "0" * 32
USER_AGENT = "Twilio.TmeWs/1.0"  # what Twilio's stream client sends
# A caller's media frame, 50 a second per call: formatted, not dumped (the same JSON, a fraction of the CPU)
MEDIA = '{"event": "media", "sequenceNumber": "%d", "streamSid": "%s", "media": {"track": "inbound", "chunk": "%d", "timestamp": "%d", "payload": "%s"}}'
MARK = '{"event": "mark", "sequenceNumber": "%d", "streamSid": "%s", "mark": {"name": %s}}'  # an echo: one per frame the agent speaks


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
        self._queue: collections.deque[tuple[str, Any]] = collections.deque()  # ("audio", frame) | ("mark", name), in arrival order
        self._playing: bytes | None = None  # the frame on the line during this tick
        self._waiters: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []
        self._sequence = 0
        self._socket: LineSocket | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._hung_up = False

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
        headers = {"User-Agent": USER_AGENT, "X-Twilio-Signature": sign_stream(self.auth_token, stream_url)}
        self._socket = await LineSocket.connect(reach, headers, self._on_message, self._on_close)
        self._send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        self._send({"event": "start", "sequenceNumber": self._next(), "streamSid": self.stream_sid, "start": {
            "accountSid": ACCOUNT_SID, "streamSid": self.stream_sid, "callSid": self.call_sid, "tracks": ["inbound"],
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}, "customParameters": self.parameters}})
        self._tasks = [asyncio.get_running_loop().create_task(self._line())]
        return True

    def say(self, ulaw: bytes) -> None:
        """The caller says this next (μ-law 8 kHz)."""
        self._caller_audio += ulaw

    async def press(self, digit: str) -> None:
        """The caller presses a key: Twilio sends a `dtmf` message on the stream."""
        self._send({"event": "dtmf", "streamSid": self.stream_sid, "sequenceNumber": self._next(),
                    "dtmf": {"track": "inbound_track", "digit": digit}})

    @property
    def saying(self) -> bool:
        return bool(self._caller_audio)

    async def hang_up(self) -> None:
        """The caller hangs up: Twilio sends `stop` and closes the socket."""
        if self._socket is not None and not self.closed.is_set():
            self._send({"event": "stop", "sequenceNumber": self._next(), "streamSid": self.stream_sid,
                        "stop": {"accountSid": ACCOUNT_SID, "callSid": self.call_sid}})
        await self.close()

    async def close(self) -> None:
        self._hung_up = True  # what the server sends from now on reaches no one
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._socket is not None:
            await self._socket.close()
        self.closed.set()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
        """Until `predicate()` holds, checked on every change (each tick of the line, each message received)."""
        if predicate():
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append((predicate, waiter))
        try:
            await asyncio.wait_for(waiter, timeout)
        finally:
            self._waiters = [entry for entry in self._waiters if entry[1] is not waiter]

    # -- Twilio's side -------------------------------------------------------------
    def _next(self) -> str:
        self._sequence += 1
        return str(self._sequence)

    def _send(self, message: dict[str, Any]) -> None:
        assert self._socket is not None
        self._socket.send(json.dumps(message))

    def _changed_now(self) -> None:
        for predicate, waiter in self._waiters:
            if not waiter.done() and predicate():
                waiter.set_result(None)

    async def _line(self) -> None:
        """The line's clock: every 20 ms the caller's next frame goes out and the frame playing ends.

        The clock is absolute: ticks a busy event loop delayed are caught up, never
        stretched, so a call lasts as long as its audio does on a real line.
        """
        loop = asyncio.get_running_loop()
        period = FRAME_MS / 1000 / self.speed
        started, tick = loop.time(), 0
        assert self._socket is not None
        while True:
            tick += 1
            self._socket.hold()
            self._speak(tick)
            self._play(started + tick * period)
            self._socket.release()
            self._changed_now()
            await asyncio.sleep(max(0.0, started + tick * period - loop.time()))

    def _speak(self, tick: int) -> None:
        """The caller's audio, or the line's silence, as one media frame."""
        if self._caller_audio:
            payload = base64.b64encode(bytes(self._caller_audio[:FRAME_BYTES]).ljust(FRAME_BYTES, b"\xff")).decode("ascii")
            del self._caller_audio[:FRAME_BYTES]
        else:
            payload = SILENCE_PAYLOAD
        self._sequence += 1
        assert self._socket is not None
        self._socket.send(MEDIA % (self._sequence, self.stream_sid, tick, tick * FRAME_MS, payload))

    def _play(self, at: float) -> None:
        """A tick of playback: the frame that played during it is heard, the marks behind it echoed, the next begins."""
        if self._playing is not None:
            self.heard.append((at, self._playing))
            self._playing = None
        self._echo_marks_due()
        if self._queue:
            self._playing = self._queue.popleft()[1]

    def _echo_marks_due(self) -> None:
        """Echo the marks at the head of the queue: everything sent before them has played."""
        while self._queue and self._queue[0][0] == "mark":
            self._echo(self._queue.popleft()[1], cleared=False)

    def _on_message(self, text: str) -> None:
        if self.closed.is_set() or self._hung_up:
            return
        message = json.loads(text)
        self.received.append(message)
        kind = message.get("event")
        if message.get("streamSid") != self.stream_sid or kind not in ("media", "mark", "clear"):
            self.closed.set()  # the server broke the protocol (the message is in `received`): the line goes dead
            self._changed_now()
            return
        if kind == "media":
            self._queue.append(("audio", base64.b64decode(message["media"]["payload"])))
        elif kind == "mark":
            self._queue.append(("mark", message["mark"]["name"]))
            if self._playing is None:  # nothing is playing: everything before it has been heard
                self._echo_marks_due()
        else:  # clear: the frame playing stops too, unheard
            dropped = [value for what, value in self._queue if what == "mark"]
            self._queue.clear()
            self._playing = None
            self.clears.append(Clear(asyncio.get_running_loop().time(), len(self.heard), len(dropped)))
            for name in dropped:
                self._echo(name, cleared=True)
        self._changed_now()

    def _on_close(self) -> None:
        self.closed.set()
        self._changed_now()

    def _echo(self, name: str, *, cleared: bool) -> None:
        self.echoes.append((name, cleared))
        self._sequence += 1
        assert self._socket is not None
        self._socket.send(MARK % (self._sequence, self.stream_sid, json.dumps(name)))


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
