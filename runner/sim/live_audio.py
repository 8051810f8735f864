"""What the simulated GPT-Live session hears and says on its primary WebSocket.

GPT-Live has one audio format for both directions (`session.audio.format`: PCM16 at 16 or
24 kHz, G.711 at 8 kHz), no VAD settings and no commit: the model decides turns itself.
The simulator does that with the Realtime simulator's ears: the energy VAD (`vad.py`) finds
where the caller stops, and what was said comes from `Simulator.expect_user_audio`, else
the rule file's fixed transcript, else pocketsphinx (`hearing.py`). Each utterance becomes
one `session.input_transcript.delta` at once and a user message of the backend's
conversation, and the model delegates its answer (what is said while a delegation's calls
are open joins the conversation once they are answered and the answer is spoken). Replies are espeak-ng's voice (`speech.py`) as `session.output_audio.delta`
chunks without timestamps, with the transcript deltas on the session timeline beside them.
Speech is sent in one go, or paced (`speech_pace`: `Simulator.audio_pace`, or the line's
pace on a call); paced speech is full duplex as the real model is: a caller who starts
talking over it cuts it off, so its audio, its words and the timeline hold only what was
said before the caller's onset (the VAD's), and what the caller says is then answered.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import soxr

from runner.audio.formats import audio_format

from . import hearing, speech
from .vad import EnergyVad, SpeechStarted

if TYPE_CHECKING:
    from .live import LiveSimConnection

PREFIX_PADDING_MS = 300  # audio kept before the onset the VAD found, as the Realtime VAD's default
DEFAULT_FORMAT = {"type": "audio/pcm", "rate": 24000}


@dataclass(slots=True)
class Speech:
    """A reply being spoken at its pace; `cut` once the caller talks over it."""

    cut: bool = False


class LiveWire:
    """One Live audio format: raw bytes on the wire <-> PCM16 at the format's rate."""

    def __init__(self, format_object: dict[str, Any]) -> None:
        codec = audio_format(format_object)  # the codec; PCM's rate is the session's own (16 or 24 kHz)
        self.type, self.decode, self.encode = codec.type, codec.decode, codec.encode
        self.rate = int(format_object.get("rate") or codec.rate) if codec.type == "audio/pcm" else codec.rate
        self.bytes_per_ms = self.rate * codec.wire_bytes // 1000


def pcm_at_24k(pcm16: bytes, rate: int) -> bytes:
    """PCM16 at `rate` as the energy VAD takes it (24 kHz)."""
    if rate == speech.SAMPLE_RATE:
        return pcm16
    samples = np.frombuffer(pcm16, dtype="<i2").astype(np.float64)
    return np.clip(np.round(soxr.resample(samples, rate, speech.SAMPLE_RATE, quality="HQ")), -32768, 32767).astype("<i2").tobytes()


class LiveAudioMixin:
    """`session.input_audio.append` heard, and replies spoken, for `LiveSimConnection`."""

    def _init_audio(self: LiveSimConnection) -> None:
        self.vad = EnergyVad()
        self.muted = False
        self.heard_ms = 0  # input audio received, in ms
        self._input = bytearray()  # PCM16 at the wire rate: the utterance so far, with its padding
        self._input_start_ms = 0  # where `_input` starts, in ms of input audio
        self._onset_ms: int | None = None
        self.turns_waiting: list[str] = []  # what the caller said while a delegation's calls were open
        self.speaking: Speech | None = None  # the paced reply being spoken, which the caller can cut off
        self._voice = asyncio.Lock()  # one reply at a time
        self.speech_started = asyncio.Event()  # set while a paced reply is being spoken
        self.cut_replies = 0

    @property
    def wire(self: LiveSimConnection) -> LiveWire:
        assert self.session is not None
        return LiveWire((self.session.get("audio") or {}).get("format") or DEFAULT_FORMAT)

    async def _on_session_input_audio_append(self: LiveSimConnection, event: dict[str, Any]) -> None:
        """No ack on GPT-Live; muted input reaches the model as silence."""
        try:
            audio = base64.b64decode(event["audio"], validate=True)
        except (binascii.Error, ValueError):
            await self.error("invalid_value", "Invalid 'audio'. Expected base64-encoded raw audio.", param="audio", client_event=event)
            return
        wire = self.wire
        if audio[:4] == b"RIFF" or (wire.type == "audio/pcm" and len(audio) % 2):
            await self.error("invalid_value", "Invalid 'audio'. Expected raw audio in the session's format, without a header.", param="audio", client_event=event)
            return
        pcm = wire.decode(audio)
        if self.muted:
            pcm = bytes(len(pcm))
        self._input += pcm
        self.heard_ms += len(audio) // wire.bytes_per_ms
        for happened in self.vad.feed(pcm_at_24k(pcm, wire.rate)):
            if isinstance(happened, SpeechStarted):
                self._onset_ms = max(self._input_start_ms, happened.at_ms - PREFIX_PADDING_MS)
                self._cut_off()
            else:
                onset, self._onset_ms = self._onset_ms or 0, None
                await self._utterance(onset, happened.at_ms)
        if self._onset_ms is None:  # between utterances: keep only what the next one's padding may need
            self._trim_input(self.heard_ms - PREFIX_PADDING_MS)

    def _cut_off(self: LiveSimConnection) -> None:
        """The caller talks over the reply: the model stops speaking (full duplex; no client event asks it to)."""
        if self.speaking is not None and not self.speaking.cut:
            self.speaking.cut = True
            self.cut_replies += 1

    def _speech_began(self: LiveSimConnection) -> None:
        """A reply starts being spoken (a call numbers its speeches for the line)."""

    def speech_pace(self: LiveSimConnection) -> float | None:
        """How many times real time replies are spoken; None: all at once (nothing can talk over them)."""
        return self.sim.audio_pace or None

    def _trim_input(self: LiveSimConnection, from_ms: int) -> None:
        drop = max(0, from_ms - self._input_start_ms)
        if drop:
            del self._input[: drop * self.wire.rate // 1000 * 2]
            self._input_start_ms += drop

    async def _utterance(self: LiveSimConnection, start_ms: int, end_ms: int) -> None:
        """The caller stopped: what they said is transcribed, then answered through the backend."""
        self._cut_off()
        self._trim_input(start_ms)
        rate = self.wire.rate
        audio = bytes(self._input[: (end_ms - start_ms) * rate // 1000 * 2])
        heard = self.sim.expected_user_transcript()
        if heard is None:
            heard = await asyncio.to_thread(hearing.transcribe, audio, rate, hearing.context_of(self._hearing_context())) or self.sim.rules.user_transcript
        await self.send({"type": "session.input_transcript.delta", "delta": heard, "start_ms": start_ms, "end_ms": end_ms})
        self.timeline_ms = max(self.timeline_ms, end_ms)
        if self.open_calls:  # heard now, answered once the open calls are
            self.turns_waiting.append(heard)
            return
        if self.speech_pace():  # full duplex: the model answers while it keeps listening
            self.meanwhile(self.answer(heard))
        else:
            await self.answer(heard)

    async def answer(self: LiveSimConnection, heard: str) -> None:
        """The caller's words join the backend's conversation, and the model delegates its answer."""
        self.items.append({"type": "message", "role": "user", "content": [{"type": "input_text", "text": heard}]})
        self.model_turns = 0
        assert self.session is not None
        if self.session["delegation"]["type"] == "responses":
            await self._delegate()

    def _hearing_context(self: LiveSimConnection) -> dict[str, Any]:
        """The words the caller is likely to use: both prompts and the backend's tools."""
        assert self.session is not None
        responses = self.session["delegation"].get("responses") or {}
        instructions = f"{self.session.get('instructions') or ''}\n{responses.get('instructions') or ''}"
        return {"instructions": instructions, "tools": [tool for tool in responses.get("tools") or [] if tool.get("type") == "function"]}

    async def _on_session_input_audio_mute(self: LiveSimConnection, event: dict[str, Any]) -> None:
        self.muted = True
        await self.send({"type": "session.input_audio.muted"})

    async def _on_session_input_audio_unmute(self: LiveSimConnection, event: dict[str, Any]) -> None:
        self.muted = False
        await self.send({"type": "session.input_audio.unmuted"})

    async def _speak(self: LiveSimConnection, text: str) -> None:
        """The voice model says `text`: audio chunks in the session format, transcript deltas beside them, then the usage so far."""
        async with self._voice:
            self._speech_began()
            pace = self.speech_pace()
            self.speaking = current = Speech() if pace else None
            if current is not None:
                self.speech_started.set()
            try:
                self.timeline_ms += await self._say(text, current, pace)
            finally:
                self.speaking = None
                self.speech_started.clear()
            await self.send({"type": "session.usage.updated", "usage": {"seconds": self.timeline_ms / 1000}})

    async def _say(self: LiveSimConnection, text: str, current: Speech | None, pace: float | None) -> int:
        """Send the speech's chunks (paced: until the caller cuts it off); how many ms of it were said."""
        wire = self.wire
        audio = wire.encode(speech.synthesize(text, wire.rate))
        pieces = speech.chunks(audio, self.sim.chunk_ms, wire.bytes_per_ms)
        start, total_ms = self.timeline_ms, len(audio) // wire.bytes_per_ms
        sent, said_ms = 0, 0
        for number, piece in enumerate(pieces, start=1):
            if current is not None and current.cut:
                break
            due = math.ceil(len(text) * number / len(pieces))
            if due > sent:  # the text's share of the whole sentence's time, chunk by chunk: deltas meet end to end, none far apart
                span = (start + total_ms * sent // len(text), start + total_ms * due // len(text))
                await self.send({"type": "session.output_transcript.delta", "delta": text[sent:due], "start_ms": span[0], "end_ms": span[1]})
                sent = due
            await self.send({"type": "session.output_audio.delta", "delta": base64.b64encode(piece).decode("ascii")})
            said_ms += len(piece) // wire.bytes_per_ms
            if pace:
                await asyncio.sleep(len(piece) / wire.bytes_per_ms / 1000 / pace)
        return said_ms

