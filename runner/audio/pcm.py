"""The one audio format the voice loop uses, and small helpers on it.

The Realtime API's `audio/pcm` is 24 kHz mono little-endian signed 16-bit; everything
in `runner.audio` converts to that at the edges so the rest never sees another format.
"""

from __future__ import annotations

import math

import numpy as np

SAMPLE_RATE = 24_000
SAMPLE_BYTES = 2  # int16, mono


def frames_for_ms(ms: float, rate: int = SAMPLE_RATE) -> int:
    """Number of frames in `ms` milliseconds (rounded to the nearest frame)."""
    return round(ms * rate / 1000)


def ms_for_frames(frames: int, rate: int = SAMPLE_RATE) -> int:
    """Whole milliseconds covered by `frames` (rounded to the nearest ms)."""
    return round(frames * 1000 / rate)


def samples(pcm: bytes) -> np.ndarray:
    """The int16 samples of a PCM16 buffer (a read-only view, no copy)."""
    return np.frombuffer(pcm, dtype="<i2")


def rms(pcm: bytes) -> float:
    """Root mean square of a PCM16 buffer in int16 units (0.0 for an empty buffer)."""
    x = samples(pcm)
    if x.size == 0:
        return 0.0
    as_float = x.astype(np.float64)
    return float(np.sqrt(np.dot(as_float, as_float) / x.size))


def dbfs(level: float) -> float:
    """An int16 RMS as dB relative to full scale (-inf for silence)."""
    if level <= 0.0:
        return -math.inf
    return 20.0 * math.log10(level / 32768.0)


def meter(level: float, floor_db: float = -60.0) -> float:
    """An int16 RMS mapped to 0..1 for a level meter: `floor_db` and below is 0, full scale is 1."""
    return min(1.0, max(0.0, 1.0 - dbfs(level) / floor_db))
