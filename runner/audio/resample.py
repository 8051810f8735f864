"""Sample-rate conversion through libsoxr (the `soxr` package), at its "HQ" quality.

Input WAVs come at 8, 16, 22.05, 44.1 or 48 kHz; the Realtime API wants 24 kHz (8 kHz for
G.711). This module used to hold a numpy polyphase sinc of our own; measured on 10 s
signals, soxr HQ is about 50 times faster and 30 dB cleaner (44.1 -> 24 kHz: 1.8 ms, SNR
132 dB and aliases at -144 dB, against 92 ms, 97 dB and -107 dB), so the well-kept
library does it.
"""

from __future__ import annotations

import numpy as np
import soxr


def resample(x: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """`x` (1-D float samples) at `src_rate` Hz, converted to `dst_rate` Hz."""
    if src_rate <= 0 or dst_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {src_rate} -> {dst_rate}")
    x = np.asarray(x, dtype=np.float64)
    if src_rate == dst_rate or x.size == 0:
        return x.copy()
    return soxr.resample(x, src_rate, dst_rate, quality="HQ")
