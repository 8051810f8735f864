"""Input audio for a simulated session: appends, commits, and server VAD on the energy.

What a committed user turn said comes from `Simulator.expect_user_audio`, else from the
rule file's `user_transcript` when it gives one, else from recognising the audio
(`hearing.py`, pocketsphinx), and the rule file's default transcript when nothing was heard.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from typing import TYPE_CHECKING, Any

import numpy as np

from runner.audio.formats import PCM, audio_format

from . import hearing, session_config
from .speech import BYTES_PER_MS
from .vad import SpeechStarted

if TYPE_CHECKING:
    from .connection import SimConnection

MIN_COMMIT_MS = 100
APPEND_KEYS = frozenset({"type", "audio", "event_id"})


def plain_append(event: dict[str, Any]) -> bool:
    """An `input_audio_buffer.append` of string `audio` (and `event_id`) and nothing else, which the SDK's
    schema always accepts: the schema walk (most of an append's cost, 50 a second per call) is skipped for it."""
    return (event.get("type") == "input_audio_buffer.append" and isinstance(event.get("audio"), str)
            and event.keys() <= APPEND_KEYS and isinstance(event.get("event_id", ""), str))


class InputAudioMixin:
    """`input_audio_buffer.*` events and what server VAD makes of them."""

    def _input_bytes_per_ms(self: SimConnection) -> int:
        return BYTES_PER_MS if self.session["audio"]["input"]["format"]["type"] == "audio/pcm" else 8

    def _vad_pcm(self: SimConnection, audio: bytes) -> bytes:
        """What the energy VAD hears: the input decoded to PCM16, G.711's 8 kHz held to 24 kHz."""
        wire = audio_format(self.session["audio"]["input"]["format"])
        if wire is PCM:
            return audio
        return np.repeat(np.frombuffer(wire.decode(audio), dtype="<i2"), PCM.rate // wire.rate).tobytes()

    async def _on_input_audio_buffer_append(self: SimConnection, event: dict[str, Any]) -> None:
        try:
            audio = base64.b64decode(event["audio"], validate=True)
        except (binascii.Error, ValueError):
            await self.error("invalid_value", "Invalid 'audio'. Expected base64-encoded audio bytes.", param="audio", client_event=event)
            return
        self.buffer += audio
        self.appended_ms += len(audio) // self._input_bytes_per_ms()
        if self.vad is None:
            return
        for happened in self.vad.feed(self._vad_pcm(audio)):
            if isinstance(happened, SpeechStarted):
                await self._speech_started(self._vad_origin_ms + happened.at_ms)
            else:
                await self._speech_stopped(self._vad_origin_ms + happened.at_ms)

    async def _speech_started(self: SimConnection, at_ms: int) -> None:
        detection = session_config.turn_detection_of(self.session) or {}
        self._speech_item_id = self.new_id("item")
        padding = detection.get("prefix_padding_ms") or 300
        buffer_start = self.appended_ms - len(self.buffer) // self._input_bytes_per_ms()
        start = max(buffer_start, at_ms - padding)
        await self.send({"type": "input_audio_buffer.speech_started", "audio_start_ms": start, "item_id": self._speech_item_id})
        if self.response is not None and detection.get("interrupt_response", True):
            await self.cancel_response("turn_detected")

    async def _speech_stopped(self: SimConnection, at_ms: int) -> None:
        detection = session_config.turn_detection_of(self.session) or {}
        item_id = self._speech_item_id or self.new_id("item")
        self._speech_item_id = None
        await self.send({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": at_ms, "item_id": item_id})
        await self._commit(item_id)
        if detection.get("create_response", True):
            await self.start_response({})

    async def _on_input_audio_buffer_commit(self: SimConnection, event: dict[str, Any]) -> None:
        buffered_ms = len(self.buffer) // self._input_bytes_per_ms()
        if buffered_ms < MIN_COMMIT_MS:
            await self.error(
                "input_audio_buffer_commit_empty",
                f"Error committing input audio buffer: buffer too small. Expected at least {MIN_COMMIT_MS}ms of audio, but buffer only has {buffered_ms}ms of audio.",
                client_event=event,
            )
            return
        item_id = self._speech_item_id or self.new_id("item")
        self._speech_item_id = None
        if self.vad is not None:
            self.vad.reset()
        await self._commit(item_id)

    async def _commit(self: SimConnection, item_id: str) -> None:
        """The buffer becomes a user audio item; what it said comes from the expectations, else from hearing it."""
        audio = bytes(self.buffer)
        self.buffer.clear()
        heard = self.sim.expected_user_transcript()
        if heard is None:
            wire = audio_format(self.session["audio"]["input"]["format"])
            heard = await asyncio.to_thread(hearing.transcribe, wire.decode(audio), wire.rate, hearing.context_of(self.session)) or self.sim.rules.user_transcript
        self.heard[item_id] = heard
        self.model_turns = 0
        previous = self.items[-1]["id"] if self.items else None
        await self.send({"type": "input_audio_buffer.committed", "item_id": item_id, "previous_item_id": previous})
        transcription = self.session["audio"]["input"]["transcription"]
        item = {"id": item_id, "object": "realtime.item", "type": "message", "role": "user", "status": "completed",
                "content": [{"type": "input_audio", "transcript": None}]}
        self.append_item(item)
        await self.send({"type": "conversation.item.added", "previous_item_id": previous, "item": item})
        done = {**item, "content": [{"type": "input_audio", "transcript": heard if transcription else None}]}
        self.replace_item(done)
        await self.send({"type": "conversation.item.done", "previous_item_id": previous, "item": done})
        if transcription:
            await self.send({"type": "conversation.item.input_audio_transcription.delta", "item_id": item_id, "content_index": 0, "delta": heard})
            await self.send({"type": "conversation.item.input_audio_transcription.completed", "item_id": item_id, "content_index": 0,
                             "transcript": heard, "usage": {"type": "duration", "seconds": max(1, len(heard.split())) * 0.4}})

    async def _on_input_audio_buffer_clear(self: SimConnection, event: dict[str, Any]) -> None:
        self.buffer.clear()
        self._speech_item_id = None
        if self.vad is not None:
            self.vad.reset()
        await self.send({"type": "input_audio_buffer.cleared"})

    async def _on_output_audio_buffer_clear(self: SimConnection, event: dict[str, Any]) -> None:
        await self.error("invalid_value", "output_audio_buffer.clear is only supported for WebRTC and SIP connections.", client_event=event)
