"""A browser stand-in for WebRTC tests: an aiortc peer with a microphone track and `oai-events`.

The microphone plays PCM (silence, then the speech a test gives it, then silence again)
in real time; the peer keeps every event that arrives on the data channel and measures
the reply audio it hears. ICE stays on 127.0.0.1 (see runner/sim/webrtc.py), and the
tests that use it run in a network namespace with loopback only (tests/netns.py).
"""

from __future__ import annotations

import asyncio
import fractions
import json
import time
from typing import Any

import av
import numpy as np
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription

from runner.sim.speech import synthesize
from runner.sim.webrtc import gather_on_loopback_only, loopback_configuration

RATE = 48000
FRAME = 960  # 20 ms


class Microphone(MediaStreamTrack):
    """Real-time PCM16 48 kHz mono frames: what `say` queued, then silence for ever."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._queued = bytearray()
        self._pts = 0
        self._start: float | None = None

    def say(self, text: str, *, lead_ms: int = 300, tail_ms: int = 1200) -> None:
        self._queued += bytes(lead_ms * RATE // 1000 * 2) + synthesize(text, RATE) + bytes(tail_ms * RATE // 1000 * 2)

    async def recv(self) -> av.AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        await asyncio.sleep(max(0.0, self._start + self._pts / RATE - time.monotonic()))
        chunk = bytes(self._queued[: FRAME * 2])
        del self._queued[: FRAME * 2]
        chunk += bytes(FRAME * 2 - len(chunk))
        frame = av.AudioFrame.from_ndarray(np.frombuffer(chunk, dtype="<i2").reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = RATE, self._pts, fractions.Fraction(1, RATE)
        self._pts += FRAME
        return frame


class BrowserPeer:
    """`offer()` → POST it somewhere → `accept(answer)`; then `events`, `heard_ms`, `wait_for(type)`."""

    def __init__(self, *, audio: bool = True) -> None:
        gather_on_loopback_only()
        self.pc = RTCPeerConnection(loopback_configuration())
        self.microphone = Microphone()
        if audio:
            self.pc.addTrack(self.microphone)
        self.channel = self.pc.createDataChannel("oai-events")
        self.events: list[dict[str, Any]] = []
        self.heard_ms = 0  # reply audio received above a whisper
        self._arrived = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.channel.on("message", self._on_message)
        self.pc.on("track", lambda track: self._tasks.append(asyncio.get_running_loop().create_task(self._listen(track))))

    def _on_message(self, message: str) -> None:
        self.events.append(json.loads(message))
        self._arrived.set()

    async def _listen(self, track: Any) -> None:
        while True:
            try:
                frame = await track.recv()
            except Exception:  # the track ended
                return
            samples = frame.to_ndarray()
            if np.abs(samples.astype(np.int32)).max() > 500:
                self.heard_ms += round(frame.samples * 1000 / frame.sample_rate)

    async def offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def accept(self, answer: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))

    def send(self, event: dict[str, Any]) -> None:
        self.channel.send(json.dumps(event))

    async def wait_for(self, predicate: Any, timeout: float = 15.0) -> dict[str, Any]:
        """The first event (seen so far or arriving) of that type, or for which `predicate(event)`."""
        check = predicate if callable(predicate) else (lambda event: event.get("type") == predicate)
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if check(event):
                    return event
            self._arrived.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no event {predicate!r} within {timeout} s; got {[event.get('type') for event in self.events]}")
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    async def wait_heard(self, ms: int, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while self.heard_ms < ms:
            if time.monotonic() > deadline:
                raise AssertionError(f"heard only {self.heard_ms} ms of reply audio within {timeout} s")
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        await self.pc.close()
        for task in self._tasks:
            task.cancel()
