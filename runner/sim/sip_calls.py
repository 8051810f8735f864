"""Simulated incoming SIP calls: ringing until accepted, then a call session reached by sideband.

`ring(sim, webhook, to=..., caller=...)` makes a call and delivers its signed
`realtime.call.incoming` webhook, as the service does when a carrier forwards a call to
the project's SIP URI. The calls API's `accept` (with a session), `reject`, `refer` and
`hangup` then act on it; an unknown or ended call is 404. The carrier plays the agent's
audio (a `PhoneLine` paced at `pace` times real time: `output_audio_buffer.started` and
`.stopped`, and a truncate at what was heard on barge-in), the caller's audio comes from
a WAV (`caller_says`) and key presses are DTMF events (`press`).
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .calls import SimCall
from .speech import BYTES_PER_MS, SAMPLE_RATE as SESSION_RATE

if TYPE_CHECKING:
    from .server import Simulator
    from .webhooks import WebhookSender

logger = logging.getLogger(__name__)

FRAME_MS = 20
PROJECT_ID = "proj_sim"
SIP_REFUSED_VAD_KEYS = ("threshold", "prefix_padding_ms", "silence_duration_ms")
_call_numbers = itertools.count(1)  # SIP call ids, unique in the process


@dataclass
class _Piece:
    item_id: str
    response_id: str
    pcm: bytearray
    played_bytes: int = 0


class PhoneLine:
    """The carrier's side of the agent's audio: played at `pace` times real time, 20 ms a frame."""

    def __init__(self, on_started: Callable[[str], None], on_stopped: Callable[[str], None], *, pace: float) -> None:
        self._pieces: collections.deque[_Piece] = collections.deque()
        self._on_started, self._on_stopped = on_started, on_stopped
        self._playing: str | None = None
        self._pace = pace
        self._queued = asyncio.Event()

    def play(self, item_id: str, response_id: str, pcm24k: bytes) -> None:
        if self._pieces and self._pieces[-1].item_id == item_id:
            self._pieces[-1].pcm += pcm24k
        else:
            self._pieces.append(_Piece(item_id, response_id, bytearray(pcm24k)))
        self._queued.set()

    def clear(self) -> list[tuple[str, str, int]]:
        cut = [(piece.item_id, piece.response_id, piece.played_bytes // BYTES_PER_MS) for piece in self._pieces]
        self._pieces.clear()
        self._playing = None
        return cut

    @property
    def audible(self) -> bool:
        return bool(self._pieces)

    async def run(self) -> None:
        """Play what is queued, frame by frame, until cancelled."""
        frame = FRAME_MS * BYTES_PER_MS
        while True:
            if not self._pieces:
                self._queued.clear()
                await self._queued.wait()
            piece = self._pieces[0]
            if self._playing != piece.response_id:
                self._playing = piece.response_id
                self._on_started(piece.response_id)
            taken = min(frame, len(piece.pcm))
            del piece.pcm[:taken]
            piece.played_bytes += taken
            if not piece.pcm:
                self._pieces.popleft()
                if not self._pieces or self._pieces[0].response_id != piece.response_id:
                    self._playing = None
                    self._on_stopped(piece.response_id)
            await asyncio.sleep(FRAME_MS / 1000 / self._pace)


class SimSipCall(SimCall):
    """One incoming SIP call: `state` is ringing, accepted, rejected, referred or ended."""

    def __init__(self, sim: Simulator, call_id: str, model: str, *, sip_headers: list[tuple[str, str]], pace: float) -> None:
        super().__init__(sim, call_id, model, media_timeout=float("inf"))
        self.sip_headers = sip_headers
        self.state = "ringing"
        self.accepted_session: dict[str, Any] | None = None  # the body of accept, as sent
        self.rejected_with: int | None = None
        self.referred_to: str | None = None
        self.accepts = 0
        self.track = PhoneLine(self._audio_started, self._audio_stopped, pace=pace)

    def accept(self, session: dict[str, Any]) -> str | None:
        """Apply the accepted session and start the call; a problem is returned as the refusal's message."""
        if self.state != "ringing":
            return f"Call '{self.id}' is not ringing (it is {self.state}): only a ringing call can be accepted."
        detection = (session.get("audio") or {}).get("input", {}).get("turn_detection") or {}
        refused = [key for key in SIP_REFUSED_VAD_KEYS if key in detection]
        if refused:
            return f"Invalid 'audio.input.turn_detection.{refused[0]}': not supported for SIP calls (the line sets its own levels)."
        from . import session_config

        self.accepts += 1
        self.accepted_session = session
        self.state = "accepted"
        self.session.session = session_config.merged(self.session.session, session)
        self.session._configure_vad()
        self.spawn(self._dispatch_inbox())
        self.spawn(self.track.run())
        return None

    async def reject(self, status_code: int) -> None:
        self.rejected_with = status_code
        self.state = "rejected"
        await self.end(f"rejected with {status_code}")

    async def refer(self, target_uri: str) -> None:
        self.referred_to = target_uri
        self.state = "referred"
        await self.end(f"transferred to {target_uri}")

    async def caller_leaves(self) -> None:
        """The caller hangs up (before or after the answer): the sidebands close, later verbs get 404."""
        await self.end("the caller hung up")

    async def caller_says(self, wav: str | Path, *, pace: float = 1.0) -> None:
        """The caller speaks the WAV's audio into the call, 20 ms a frame, at `pace` times real time."""
        pcm = _wav_pcm(Path(wav))
        frame = FRAME_MS * BYTES_PER_MS
        for start in range(0, len(pcm), frame):
            await self._hear(pcm[start : start + frame])
            await asyncio.sleep(FRAME_MS / 1000 / pace)

    async def press(self, key: str) -> None:
        """A keypad press: `input_audio_buffer.dtmf_event_received` to every listener (it has no event_id)."""
        import json

        await self.session.listeners.send(json.dumps({"type": "input_audio_buffer.dtmf_event_received", "event": key, "received_at": int(time.time())}))

    async def end(self, reason: str) -> None:
        if self.state in ("ringing", "accepted"):
            self.state = "ended"
        await super().end(reason)


def _wav_pcm(path: Path) -> bytes:
    """A 16-bit PCM WAV as the PCM16 24 kHz mono a call session hears (channels mixed, rate interpolated)."""
    import wave

    import numpy as np

    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2:
            raise ValueError(f"{path}: the caller's WAV must be 16-bit PCM, not {8 * wav.getsampwidth()}-bit")
        rate, channels = wav.getframerate(), wav.getnchannels()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, channels).mean(axis=1)
    if rate != SESSION_RATE:
        positions = np.arange(0, len(samples), rate / SESSION_RATE)
        samples = np.interp(positions, np.arange(len(samples)), samples)
    return samples.astype("<i2").tobytes()


def sip_uri(project_id: str = PROJECT_ID) -> str:
    """Where a carrier sends the project's calls."""
    return f"sip:{project_id}@sip.api.openai.com;transport=tls"


def incoming_leg(prefix: str, *, to: str, caller: str) -> tuple[str, list[tuple[str, str]]]:
    """A new call id (`<prefix>` and a number unique in the process) and the SIP headers the carrier's INVITE brings."""
    number = next(_call_numbers)
    call_id = f"{prefix}{number:06d}"
    return call_id, [
        ("From", f'"Caller" <sip:{caller}@carrier.example>;tag=sim{number}'),
        ("To", f"<sip:{to}@sip.api.openai.com>"),
        ("Call-ID", f"{call_id}@carrier.example"),
    ]


async def ring(sim: Simulator, webhook: WebhookSender, *, to: str = "+15550100", caller: str = "+15550199", pace: float = 1.0,
               deliver: bool = True) -> SimSipCall:
    """An incoming call to the number `to` from `caller`; its webhook is delivered unless `deliver` is False."""
    from .session_config import DEFAULT_MODEL
    from .webhooks import incoming_call_event

    call_id, headers = incoming_leg("rtc_sip", to=to, caller=caller)
    call = SimSipCall(sim, call_id, DEFAULT_MODEL, sip_headers=headers, pace=pace)
    sim.calls.active[call_id] = call
    if deliver:
        await webhook.send(incoming_call_event(call_id, headers))
    return call
