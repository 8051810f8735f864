"""Deterministic speech-like audio for the simulated model's voice.

Real speech is needed neither by the runner nor by its tests: what matters is audio
whose length follows the text (so playback, truncation and recording can be checked)
and whose energy rises and falls at syllable rate (so a VAD or an echo gate sees
something voice-like).  Same text, same samples, every time.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from runner.audio.formats import audio_format

SAMPLE_RATE = 24_000
BYTES_PER_MS = SAMPLE_RATE * 2 // 1000  # PCM16 mono
MS_PER_WORD = 400  # 150 words per minute
PAUSE_MS = 150  # after . , ; : ! ?
SYLLABLE_MS = 200
MIN_MS = 300


def speech_ms(text: str) -> int:
    """How long the simulated voice takes to say `text`, in whole milliseconds."""
    words = len(text.split())
    pauses = sum(text.count(mark) for mark in ".,;:!?")
    return max(MIN_MS, words * MS_PER_WORD + pauses * PAUSE_MS)


def synthesize(text: str, rate: int = SAMPLE_RATE) -> bytes:
    """PCM16 little-endian mono at `rate`: a voiced buzz, amplitude-modulated per syllable."""
    total = speech_ms(text) * rate // 1000
    seed = zlib.crc32(text.encode("utf-8"))
    rng = np.random.default_rng(seed)
    syllable_len = SYLLABLE_MS * rate // 1000
    syllables = -(-total // syllable_len)
    pitches = rng.uniform(110.0, 190.0, syllables)
    pitch = np.repeat(pitches, syllable_len)[:total]
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    wave = np.sin(phase) + 0.5 * np.sin(2 * phase) + 0.25 * np.sin(3 * phase)
    within = (np.arange(total) % syllable_len) / syllable_len
    envelope = np.where(within < 0.8, np.sin(np.pi * within / 0.8) ** 2, 0.0)
    wave *= envelope * 0.3 / 1.75
    return (wave * 32767).astype("<i2").tobytes()


def wire_audio(text: str, format_object: Mapping[str, Any]) -> tuple[bytes, int]:
    """The simulated voice saying `text` in a session format, and that format's bytes per ms."""
    wire = audio_format(format_object)
    return wire.encode(synthesize(text, wire.rate)), wire.rate * wire.wire_bytes // 1000


def chunks(audio: bytes, chunk_ms: int, bytes_per_ms: int = BYTES_PER_MS) -> list[bytes]:
    """Split audio into `chunk_ms` pieces (the last may be shorter)."""
    size = max(1, chunk_ms) * bytes_per_ms
    return [audio[start : start + size] for start in range(0, len(audio), size)]
