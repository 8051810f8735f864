"""The simulated model's voice: espeak-ng saying the reply, or a deterministic buzz without it.

What matters to the runner and its tests is audio whose length follows the text (so
playback, truncation and recording can be checked) and that sounds like speech (a VAD,
an echo gate, or the simulator's own ears hear it as such). espeak-ng (`--stdout`, text on
stdin) gives real words, resampled to the session's rate and cached per text, so a test
suite that says the same sentences a thousand times pays for each once. Without espeak-ng
the voice is a buzz whose energy rises and falls at syllable rate, and one warning says so.
Same text, same samples, every time.
"""

from __future__ import annotations

import functools
import logging
import shutil
import subprocess
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import soxr

from runner.audio.formats import audio_format

logger = logging.getLogger(__name__)
VOICE = "en-us+f2"  # of espeak-ng's English voices, the one pocketsphinx (hearing.py) understands best
_said_once = False
SAMPLE_RATE = 24_000
BYTES_PER_MS = SAMPLE_RATE * 2 // 1000  # PCM16 mono
MS_PER_WORD = 400  # 150 words per minute
PAUSE_MS = 150  # after . , ; : ! ?
SYLLABLE_MS = 200
MIN_MS = 300


def speech_ms(text: str) -> int:
    """How long the simulated voice takes to say `text`, in whole milliseconds."""
    return len(synthesize(text)) // BYTES_PER_MS


def synthesize(text: str, rate: int = SAMPLE_RATE) -> bytes:
    """PCM16 little-endian mono at `rate`: espeak-ng's voice, or the buzz when it is missing."""
    spoken = _espeak(text)
    if spoken is None:
        return buzz(text, rate)
    samples, source_rate = spoken
    length_ms = max(MIN_MS, len(samples) * 1000 // source_rate)  # whole milliseconds, the same at every rate
    resampled = soxr.resample(samples.astype(np.float64), source_rate, rate, quality="HQ") if rate != source_rate else samples
    fitted = np.zeros(length_ms * rate // 1000)
    fitted[: min(len(fitted), len(resampled))] = resampled[: len(fitted)]
    return np.clip(np.round(fitted), -32768, 32767).astype("<i2").tobytes()


@functools.lru_cache(maxsize=256)  # a few seconds of speech each: tens of megabytes at most
def _espeak(text: str) -> tuple[np.ndarray, int] | None:
    """espeak-ng's samples and rate for `text`; None when espeak-ng is not installed."""
    global _said_once
    program = shutil.which("espeak-ng")
    if program is None:
        if not _said_once:
            _said_once = True
            logger.warning("runner.sim: espeak-ng is not installed, so the simulated voice is a buzz, not words (apt install espeak-ng)")
        return None
    wav = subprocess.run([program, "--stdout", "-v", VOICE], input=text.encode("utf-8"), capture_output=True, check=True, timeout=30).stdout
    rate = int.from_bytes(wav[24:28], "little")
    data = wav.index(b"data") + 8  # espeak streams: its header's sizes are placeholders, the samples run to the end
    return np.frombuffer(wav[data : data + (len(wav) - data) // 2 * 2], dtype="<i2").copy(), rate  # int16: a quarter of float64's memory


def buzz_ms(text: str) -> int:
    """How long the buzz takes for `text`: 150 words a minute, a pause at each punctuation mark."""
    words = len(text.split())
    pauses = sum(text.count(mark) for mark in ".,;:!?")
    return max(MIN_MS, words * MS_PER_WORD + pauses * PAUSE_MS)


def buzz(text: str, rate: int = SAMPLE_RATE) -> bytes:
    """A voiced buzz, amplitude-modulated per syllable: the voice without espeak-ng."""
    total = buzz_ms(text) * rate // 1000
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
