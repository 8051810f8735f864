"""A simulated GPT-Live WebRTC call: `POST /v1/live/sessions` with an SDP offer, then sidebands.

The POST starts the session (no `session.start` on any channel: one is refused as a second
start). The caller's audio arrives on RTP and is heard as on the primary WebSocket
(`live_audio.py`, PCM16 24 kHz); the replies go out on the service's track instead of as
`session.output_audio.delta`. Every other server event goes to the `oai-events` data
channel and to each sideband attached at `/v1/live/sessions/{id}/attach`, which first
gets `session.started` with the session as it is (what the service's short attach replay
holds is not documented; the simulator replays that one event). Not simulated: the
reflected, timestamped audio a real sideband also receives. `session.close` ends the call.
"""

from __future__ import annotations

import base64
import json
import time
from typing import TYPE_CHECKING, Any

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

    def begin(self, config: dict[str, Any]) -> None:
        """The session the POST asked for, as `session.start` would have made it."""
        delegation = config.get("delegation") or {"type": "client"}
        self.session = {"id": self.call.id, "expires_at": int(time.time()) + SESSION_SECONDS, "status": "active", **config, "delegation": delegation}
        for item in config.get("input") or []:
            self.items.append({"type": "message", "role": item["role"], "content": item["content"]})

    async def send(self, event: dict[str, Any]) -> None:
        if event["type"] == "session.output_audio.delta":  # WebRTC: the audio goes on the RTP track
            if self.call.track is not None:
                self.call.track.play(f"speech{self._speech}", f"speech{self._speech}", base64.b64decode(event["delta"]))
            return
        await super().send(event)

    async def _speak(self, text: str) -> None:
        self._speech += 1
        await super()._speak(text)

    async def hear(self, pcm: bytes) -> None:
        """Caller audio from RTP, as if appended (it is not a client event, so it is not validated)."""
        await self._on_session_input_audio_append({"type": "session.input_audio.append", "audio": base64.b64encode(pcm).decode("ascii")})

    async def _on_session_close(self, event: dict[str, Any]) -> None:
        await super()._on_session_close(event)
        self.call.spawn(self.call.end("the session was closed"))

    async def cancel_response(self, reason: str) -> None:
        """Nothing to cancel: GPT-Live's speech is never cancelled by the client."""

    def hello(self) -> str:
        """What a new listener hears first, and only it: `session.started` with the session as it is now."""
        event = {"event_id": self.new_id("event"), "type": "session.started", "session": self.session}
        self.sent.append(event)
        return json.dumps(event)


class LiveSimCall(SimCall):
    """One GPT-Live WebRTC call: the Realtime call's peer and listeners, a GPT-Live session."""

    session: LiveCallSession

    def new_session(self, model: str) -> LiveCallSession:
        return LiveCallSession(self)

    def _audio_started(self, response_id: str) -> None:
        """GPT-Live reports no playback events."""

    def _audio_stopped(self, response_id: str) -> None:
        """GPT-Live reports no playback events."""


def new_live_call(sim: Simulator, config: dict[str, Any]) -> LiveSimCall:
    call = sim.calls.new(str(config.get("model", "")), LiveSimCall, "live")
    assert isinstance(call, LiveSimCall)
    call.session.begin(config)
    return call
