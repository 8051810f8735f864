"""The simulator's WebRTC media: the browser's Opus in, the reply's audio out, on loopback only.

aiortc decodes the caller's Opus to frames; `pump_input` turns them into the PCM16 24 kHz
mono the simulated session hears. `ReplyTrack` is the service's outgoing track: it plays
the reply's audio in real time, 20 ms a frame, and knows how much of each item was heard,
so the service can truncate on barge-in itself (WebRTC: the service plays the audio).

The simulator never leaves 127.0.0.1: no STUN server, and host candidates on loopback
only (aioice skips loopback addresses unless told otherwise, and has no option for it).
"""

from __future__ import annotations

import asyncio
import collections
import fractions
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import av
import numpy as np
from aiortc import MediaStreamTrack, RTCConfiguration
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import SessionDescription

RTP_RATE = 48000  # Opus always runs at 48 kHz
FRAME_SAMPLES = 960  # 20 ms
SESSION_RATE = 24000  # what the simulated session hears and speaks (PCM16 mono)
LOOPBACK = "127.0.0.1"


class BadOffer(ValueError):
    """An SDP offer the calls endpoint refuses, with the reason the caller sees."""


def gather_on_loopback_only() -> None:
    """Make aioice offer 127.0.0.1 as its only host candidate (for every peer in this process).

    The simulator is a loopback-only stand-in, so its peers must never announce or probe
    another address; aioice's `get_host_addresses` leaves loopback out and takes no option.
    """
    import aioice.ice

    aioice.ice.get_host_addresses = _loopback_addresses


def _loopback_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    return [LOOPBACK] if use_ipv4 else []


def loopback_configuration() -> RTCConfiguration:
    """An RTCConfiguration with no ICE servers (aiortc would otherwise ask a public STUN server)."""
    return RTCConfiguration(iceServers=[])


def check_offer(sdp: str) -> None:
    """Refuse an offer that is not SDP, or that offers no audio, before any peer is made."""
    if not sdp.strip():
        raise BadOffer("the SDP offer is empty: send the browser's offer (RTCPeerConnection.createOffer) as the body")
    if not sdp.lstrip().startswith("v=0"):
        raise BadOffer(f"the SDP offer is malformed: it must start with 'v=0', not {sdp.strip()[:20]!r}")
    try:
        parsed = SessionDescription.parse(sdp)
    except Exception as error:  # aiortc's parser raises ValueError, KeyError, IndexError on junk
        raise BadOffer(f"the SDP offer is malformed: {error or type(error).__name__}") from None
    if not any(media.kind == "audio" for media in parsed.media):
        raise BadOffer("the SDP offer has no audio: add an audio track or transceiver (m=audio) before createOffer")


@dataclass
class _Segment:
    item_id: str
    response_id: str
    pcm: bytearray  # 48 kHz PCM16 mono still to play
    played_bytes: int = 0


class ReplyTrack(MediaStreamTrack):
    """The service's outgoing audio track, paced in real time.

    `on_started(response_id)` / `on_stopped(response_id)` fire when audio starts and when
    the queued audio has all played (`output_audio_buffer.started` / `.stopped`).
    """

    kind = "audio"

    def __init__(self, on_started: Callable[[str], None], on_stopped: Callable[[str], None]) -> None:
        super().__init__()
        self._segments: collections.deque[_Segment] = collections.deque()
        self._on_started, self._on_stopped = on_started, on_stopped
        self._playing: str | None = None  # response id of the audio now audible
        self._pts = 0
        self._start: float | None = None

    def play(self, item_id: str, response_id: str, pcm24k: bytes) -> None:
        """Queue a piece of an item's audio (PCM16 24 kHz mono)."""
        upsampled = np.repeat(np.frombuffer(pcm24k, dtype="<i2"), RTP_RATE // SESSION_RATE).tobytes()
        if self._segments and self._segments[-1].item_id == item_id:
            self._segments[-1].pcm += upsampled
        else:
            self._segments.append(_Segment(item_id, response_id, bytearray(upsampled)))

    def clear(self) -> list[tuple[str, str, int]]:
        """Drop what is queued; for each item cut, `(item_id, response_id, heard_ms)`."""
        cut = [(segment.item_id, segment.response_id, segment.played_bytes // 2 * 1000 // RTP_RATE) for segment in self._segments]
        self._segments.clear()
        self._playing = None
        return cut

    @property
    def audible(self) -> bool:
        return bool(self._segments)

    async def recv(self) -> Any:
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._pts / RTP_RATE
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        samples = self._take(FRAME_SAMPLES * 2)
        frame = av.AudioFrame.from_ndarray(np.frombuffer(samples, dtype="<i2").reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RTP_RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, RTP_RATE)
        self._pts += FRAME_SAMPLES
        return frame

    def _take(self, size: int) -> bytes:
        out = bytearray()
        while self._segments and len(out) < size:
            segment = self._segments[0]
            if self._playing != segment.response_id:
                self._playing = segment.response_id
                self._on_started(segment.response_id)
            piece = segment.pcm[: size - len(out)]
            del segment.pcm[: len(piece)]
            segment.played_bytes += len(piece)
            out += piece
            if not segment.pcm:
                self._segments.popleft()
                if not self._segments or self._segments[0].response_id != segment.response_id:
                    self._playing = None
                    self._on_stopped(segment.response_id)
        return bytes(out) + bytes(size - len(out))


async def pump_input(track: Any, feed: Callable[[bytes], Awaitable[None]]) -> None:
    """Feed the caller's audio to the session as PCM16 24 kHz mono, until the track ends."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=SESSION_RATE)
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        for converted in resampler.resample(frame):
            await feed(converted.to_ndarray().tobytes())
