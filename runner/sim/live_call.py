"""A simulated GPT-Live WebRTC call: `POST /v1/live/sessions` with an SDP offer, then sidebands.

The POST starts the session (no `session.start` on any channel: one is refused as a second
start). The caller's audio arrives on RTP and is heard as on the primary WebSocket
(`live_audio.py`, PCM16 24 kHz); the replies go out on the service's track instead of as
`session.output_audio.delta`. Every other server event goes to the `oai-events` data
channel and to each sideband attached at `/v1/live/sessions/{id}/attach`, which first
gets `session.started` with the session as it is (what the service's short attach replay
holds is not documented; the simulator replays that one event). Replies are spoken at the
line's pace (`pace`), so a caller can talk over them (`live_audio.py`), and the audio the line
played is reflected to the sidebands whenever it goes quiet, as one `session.output_audio.delta`
with its place on the session timeline (`start_ms`/`end_ms`; the service reflects it in
smaller chunks as it plays). `session.close` ends the call.
"""

from __future__ import annotations

import base64
import contextlib
import json
import time
from typing import TYPE_CHECKING, Any

from websockets.exceptions import ConnectionClosed

from .calls import Listeners, SimCall
from .live import SESSION_SECONDS, LiveSimConnection

if TYPE_CHECKING:
    from .server import Simulator


class LiveCallSession(LiveSimConnection):
    """A call's GPT-Live session: started by the call's creation, heard and spoken through WebRTC."""

    def __init__(self, call: LiveSimCall) -> None:
        self.call = call
        self.listeners = Listeners()
        super().__init__(call.sim, self.listeners, drop_after_events=None)  # type: ignore[arg-type]
        self._speech = 0
        self._unreflected: dict[str, tuple[int, bytearray]] = {}  # speech id -> where its audio not yet reflected starts, that audio
        self.reflected: list[dict[str, Any]] = []  # the played audio the sidebands were sent

    def begin(self, config: dict[str, Any]) -> None:
        """The session the POST asked for, as `session.start` would have made it."""
        delegation = config.get("delegation") or {"type": "client"}
        self.session = {"id": self.call.id, "expires_at": int(time.time()) + SESSION_SECONDS, "status": "active", **config, "delegation": delegation}
        for item in config.get("input") or []:
            self.items.append({"type": "message", "role": item["role"], "content": item["content"]})

    async def send(self, event: dict[str, Any]) -> None:
        if event["type"] == "session.output_audio.delta":  # WebRTC: the audio goes on the RTP track
            speech, pcm = f"speech{self._speech}", base64.b64decode(event["delta"])
            self._unreflected[speech][1].extend(pcm)
            if self.call.track is not None:
                self.call.track.play(speech, speech, pcm)
            return
        await super().send(event)

    def _speech_began(self) -> None:
        self._speech += 1
        self._unreflected[f"speech{self._speech}"] = (self.timeline_ms, bytearray())

    def speech_pace(self) -> float | None:
        """A call's replies are spoken at the line's pace, so a caller can talk over them."""
        return self.call.pace

    async def reflect(self, speech: str) -> None:
        """The line has played this speech's audio so far: the sidebands get it, PCM16 24 kHz, timestamped on the session timeline."""
        start_ms, pcm = self._unreflected.get(speech, (0, bytearray()))
        if not pcm:
            return
        end_ms = start_ms + len(pcm) // 48
        self._unreflected[speech] = (end_ms, bytearray())
        event = {"type": "session.output_audio.delta", "delta": base64.b64encode(bytes(pcm)).decode("ascii"), "start_ms": start_ms, "end_ms": end_ms}
        self.reflected.append(event)
        text = json.dumps(event)
        for socket in list(self.listeners.sidebands):
            with contextlib.suppress(ConnectionClosed):
                await socket.send(text)

    async def hear(self, pcm: bytes) -> None:
        """Caller audio from RTP, as if appended (it is not a client event, so it is not validated)."""
        await self._on_session_input_audio_append({"type": "session.input_audio.append", "audio": base64.b64encode(pcm).decode("ascii")})

    async def _on_session_close(self, event: dict[str, Any]) -> None:
        await super()._on_session_close(event)
        self.call.spawn(self.call.end("the session was closed"))

    async def cancel_response(self, reason: str) -> None:
        """The call is over: what the session was still saying or answering stops (a client never cancels GPT-Live's speech)."""
        for task in list(self._handling):
            task.cancel()

    def hello(self) -> str:
        """What a new listener hears first, and only it: `session.started` with the session as it is now."""
        event = {"event_id": self.new_id("event"), "type": "session.started", "session": self.session}
        self.sent.append(event)
        return json.dumps(event)


class LiveSimCall(SimCall):
    """One GPT-Live WebRTC call: the Realtime call's peer and listeners, a GPT-Live session."""

    session: LiveCallSession
    pace = 1.0  # times real time the line plays (WebRTC: real time)

    def new_session(self, model: str) -> LiveCallSession:
        return LiveCallSession(self)

    async def _dispatch_inbox(self) -> None:
        """Client events from every listener in arrival order; while the model speaks, the next is handled meanwhile."""
        while True:
            message = await self._inbox.get()
            with contextlib.suppress(ConnectionClosed):
                await self.session.handle(message)

    def _audio_started(self, response_id: str) -> None:
        """GPT-Live reports no playback events."""

    def _audio_stopped(self, response_id: str) -> None:
        """GPT-Live reports no playback events; the sidebands get the played audio back."""
        self.spawn(self.session.reflect(response_id))


def new_live_call(sim: Simulator, config: dict[str, Any]) -> LiveSimCall:
    call = sim.calls.new(str(config.get("model", "")), LiveSimCall, "live")
    assert isinstance(call, LiveSimCall)
    call.session.begin(config)
    return call
