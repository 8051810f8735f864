"""Simulated WebRTC calls: one session per call, reached by RTP, `oai-events` and sideband sockets.

A call is what `POST /v1/realtime/calls` makes from a browser's SDP offer. Its session is
one `SimConnection` whose server events go to every listener at once (the data channel
and each sideband WebSocket opened with `?call_id=`), whose client events come from all
of them in arrival order, each validated as on a plain socket, and whose audio comes in
on the caller's RTP track and goes out on the service's. The service plays the audio,
so it sends no `response.output_audio.delta`: it emits `output_audio_buffer.*` and, on
barge-in, truncates the item at what was heard itself. The call ends on hangup, when the
caller's peer goes away, or when no media arrived for `media_timeout` seconds; its
sideband sockets are then closed and later ones refused with 404.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from runner.audio.formats import PCM, audio_format

from . import session_config
from .connection import SESSION_SECONDS, SimConnection
from .speech import BYTES_PER_MS

if TYPE_CHECKING:
    from .server import Simulator

logger = logging.getLogger(__name__)

MEDIA_TIMEOUT = 30.0  # seconds without caller media before a call counts as abandoned
ENDED_CALLS_KEPT = 1000  # ended call ids remembered, so a late sideband gets 404 and not a hang


class Listeners:
    """Where a call's server events go: its data channel and its sideband sockets."""

    def __init__(self) -> None:
        self.channel: Any = None  # aiortc RTCDataChannel once the caller opens `oai-events`
        self.sidebands: set[ServerConnection] = set()

    async def send(self, text: str) -> None:
        if self.channel is not None and self.channel.readyState == "open":
            self.channel.send(text)
        for socket in list(self.sidebands):
            try:
                await socket.send(text)
            except ConnectionClosed:
                self.sidebands.discard(socket)


class CallSession(SimConnection):
    """A call's session: the socket session's protocol, with WebRTC's audio path."""

    def __init__(self, call: SimCall, model: str) -> None:
        self.call = call
        self.listeners = Listeners()
        super().__init__(call.sim, self.listeners, model, drop_after_events=None)  # type: ignore[arg-type]

    def _input_bytes_per_ms(self) -> int:
        return BYTES_PER_MS  # RTP audio reaches the session as PCM16 24 kHz whatever the format says

    def _vad_pcm(self, audio: bytes) -> bytes:
        return audio

    async def send(self, event: dict[str, Any]) -> None:
        if event["type"] == "response.output_audio.delta":  # WebRTC: the audio goes on the RTP track
            self.call.play(event["item_id"], event["response_id"], base64.b64decode(event["delta"]), self.response.format if self.response else None)
            return
        await super().send(event)

    async def hear(self, pcm: bytes) -> None:
        """Caller audio from RTP, as if appended (it is not a client event, so it is not validated)."""
        await self._on_input_audio_buffer_append({"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode("ascii")})

    async def _speech_started(self, at_ms: int) -> None:
        await super()._speech_started(at_ms)
        detection = session_config.turn_detection_of(self.session) or {}
        if detection.get("interrupt_response", True):
            await self.cut_playback()

    async def _on_output_audio_buffer_clear(self, event: dict[str, Any]) -> None:
        await self.cut_playback(always=True)

    async def cut_playback(self, *, always: bool = False) -> None:
        """Stop the reply audio, truncate each cut item at what was heard, say `cleared`."""
        cut = self.call.track.clear() if self.call.track is not None else []
        for item_id, response_id, heard_ms in cut:
            sent = self.audio_sent_ms.get(item_id, 0)
            if self.index_of(item_id) is not None and heard_ms < sent:
                await self._on_conversation_item_truncate({"item_id": item_id, "content_index": 0, "audio_end_ms": heard_ms})
        if cut or always:
            await self.send({"type": "output_audio_buffer.cleared", "response_id": cut[0][1] if cut else None})

    def hello(self) -> str:
        """What a new listener hears first, and only it: `session.created` with the session as it is now."""
        created = {"id": self.session_id, "object": "realtime.session", "expires_at": int(time.time()) + SESSION_SECONDS, **self.session}
        event = {"event_id": self.new_id("event"), "type": "session.created", "session": created}
        self.sent.append(event)
        self.sent_at.append(time.perf_counter())
        return json.dumps(event)


class SimCall:
    """One WebRTC call: its peer connection, its session and its listeners."""

    def __init__(self, sim: Simulator, call_id: str, model: str, *, media_timeout: float) -> None:
        self.sim = sim
        self.id = call_id
        self.session = self.new_session(model)
        self.track: Any = None  # webrtc.ReplyTrack
        self.peer: Any = None  # aiortc RTCPeerConnection
        self.ended = asyncio.Event()
        self.end_reason: str | None = None
        self.media_timeout = media_timeout
        self.last_media = time.monotonic()
        self._inbox: asyncio.Queue[str | bytes] = asyncio.Queue()
        self._tasks: set[asyncio.Task[Any]] = set()

    def new_session(self, model: str) -> Any:
        """The call's session (a GPT-Live call has its own: runner/sim/live_call.py)."""
        return CallSession(self, model)

    def spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def answer(self, offer: str) -> str:
        """Make the service's peer for `offer` and return its SDP answer (ICE gathered: no trickle)."""
        from aiortc import RTCPeerConnection, RTCSessionDescription

        from . import webrtc

        webrtc.gather_on_loopback_only()
        self.peer = peer = RTCPeerConnection(webrtc.loopback_configuration())
        self.track = webrtc.ReplyTrack(self._audio_started, self._audio_stopped)

        @peer.on("track")
        def on_track(track: Any) -> None:
            if track.kind == "audio":
                self.spawn(webrtc.pump_input(track, self._hear))

        @peer.on("datachannel")
        def on_datachannel(channel: Any) -> None:
            if channel.label != "oai-events":
                return
            self.session.listeners.channel = channel
            channel.on("message", self._inbox.put_nowait)
            if channel.readyState == "open":
                channel.send(self.session.hello())
            else:
                channel.on("open", lambda: channel.send(self.session.hello()))

        @peer.on("connectionstatechange")
        def on_state() -> None:
            if peer.connectionState in ("failed", "closed"):
                self.spawn(self.end(f"the caller's peer connection {peer.connectionState}"))

        await peer.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        peer.addTrack(self.track)  # takes the offer's audio transceiver, which becomes sendrecv
        await peer.setLocalDescription(await peer.createAnswer())
        self.spawn(self._dispatch_inbox())
        self.spawn(self._watch_media())
        return peer.localDescription.sdp

    async def attach(self, socket: ServerConnection) -> None:
        """Serve one sideband socket until it or the call ends; its events join the call's inbox."""
        await socket.send(self.session.hello())
        self.session.listeners.sidebands.add(socket)
        try:
            async for message in socket:
                await self._inbox.put(message)
        except ConnectionClosed:
            pass
        finally:
            self.session.listeners.sidebands.discard(socket)

    async def _dispatch_inbox(self) -> None:
        """Client events from every listener, one at a time, in arrival order."""
        while True:
            message = await self._inbox.get()
            try:
                await self.session._dispatch(message)
            except ConnectionClosed:
                pass

    async def _hear(self, pcm: bytes) -> None:
        self.last_media = time.monotonic()
        await self.session.hear(pcm)

    async def _watch_media(self) -> None:
        while not self.ended.is_set():
            await asyncio.sleep(min(1.0, self.media_timeout / 4))
            if time.monotonic() - self.last_media > self.media_timeout:
                await self.end(f"no media from the caller for {self.media_timeout:g} s")

    def play(self, item_id: str, response_id: str, audio: bytes, output_format: dict[str, Any] | None) -> None:
        wire = audio_format(output_format) if output_format else PCM
        if wire is not PCM:  # G.711 in the session config: held to 24 kHz for the track
            import numpy as np

            audio = np.repeat(np.frombuffer(wire.decode(audio), dtype="<i2"), PCM.rate // wire.rate).tobytes()
        if self.track is not None:
            self.track.play(item_id, response_id, audio)

    def _audio_started(self, response_id: str) -> None:
        self.spawn(self.session.send({"type": "output_audio_buffer.started", "response_id": response_id}))

    def _audio_stopped(self, response_id: str) -> None:
        self.spawn(self.session.send({"type": "output_audio_buffer.stopped", "response_id": response_id}))

    async def drop_sidebands(self) -> None:
        """Abort every sideband socket without a close frame (a network drop, for tests)."""
        for socket in list(self.session.listeners.sidebands):
            socket.transport.abort()

    async def end(self, reason: str) -> None:
        """Hang up: stop the reply, close the peer and every sideband socket (once)."""
        if self.ended.is_set():
            return
        self.ended.set()
        self.end_reason = reason
        logger.info("call %s ended: %s", self.id, reason)
        self.sim.calls.forget(self.id)
        await self.session.cancel_response("client_cancelled")
        for socket in list(self.session.listeners.sidebands):
            await socket.close(1000, "call ended")
        if self.peer is not None:
            await self.peer.close()
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()


class CallRegistry:
    """The simulator's calls by id; ended ones are remembered so they answer 404."""

    def __init__(self, sim: Simulator, *, media_timeout: float = MEDIA_TIMEOUT) -> None:
        self.sim = sim
        self.media_timeout = media_timeout
        self.active: dict[str, SimCall] = {}
        self.ended: dict[str, SimCall] = {}
        self._count = 0

    def new(self, model: str, kind: type[SimCall] = SimCall, prefix: str = "rtc") -> SimCall:
        self._count += 1
        call = kind(self.sim, f"{prefix}_sim{self._count:06d}", model, media_timeout=self.media_timeout)
        self.active[call.id] = call
        return call

    def get(self, call_id: str) -> SimCall | None:
        return self.active.get(call_id)

    def forget(self, call_id: str) -> None:
        call = self.active.pop(call_id, None)
        if call is not None:
            self.ended[call_id] = call
            while len(self.ended) > ENDED_CALLS_KEPT:
                self.ended.pop(next(iter(self.ended)))

    async def close(self) -> None:
        for call in list(self.active.values()):
            await call.end("the simulator closed")
