"""G.711 μ-law and A-law (ITU-T G.711), table-driven with numpy.

The Realtime API's `audio/pcmu` and `audio/pcma` are G.711 at 8 kHz, one byte per
sample. The stdlib `audioop` that used to do this is deprecated and gone in Python 3.13,
so the conversion is two lookup tables built once from the standard's segment rules
(the reference algorithm of Sun's g711.c, which `audioop` also follows, so the results
are bit-identical to it): 65,536 entries from PCM16 to a code, 256 back.
"""

from __future__ import annotations

import numpy as np

_ULAW_BIAS = 0x84
_ULAW_CLIP = 8159  # in 14-bit units


def _segment(magnitude: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The index of the first segment end >= magnitude (8 when above the last)."""
    return np.searchsorted(ends, magnitude, side="left")


def _ulaw_encode_table() -> np.ndarray:
    sample = np.arange(-32768, 32768, dtype=np.int64) >> 2  # 14-bit
    mask = np.where(sample < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(sample), _ULAW_CLIP) + (_ULAW_BIAS >> 2)
    segment = _segment(magnitude, np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF]))
    code = np.where(segment >= 8, 0x7F, (segment << 4) | ((magnitude >> (segment + 1)) & 0xF))
    return (code ^ mask).astype(np.uint8)


def _ulaw_decode_table() -> np.ndarray:
    code = ~np.arange(256, dtype=np.int64) & 0xFF
    magnitude = (((code & 0x0F) << 3) + _ULAW_BIAS) << ((code & 0x70) >> 4)
    return np.where(code & 0x80, _ULAW_BIAS - magnitude, magnitude - _ULAW_BIAS).astype("<i2")


def _alaw_encode_table() -> np.ndarray:
    sample = np.arange(-32768, 32768, dtype=np.int64) >> 3  # 13-bit
    mask = np.where(sample >= 0, 0xD5, 0x55)
    magnitude = np.where(sample >= 0, sample, -sample - 1)
    segment = _segment(magnitude, np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF]))
    mantissa = np.where(segment < 2, magnitude >> 1, magnitude >> np.maximum(segment, 1)) & 0xF
    code = np.where(segment >= 8, 0x7F, (segment << 4) | mantissa)
    return (code ^ mask).astype(np.uint8)


def _alaw_decode_table() -> np.ndarray:
    code = np.arange(256, dtype=np.int64) ^ 0x55
    segment = (code & 0x70) >> 4
    magnitude = ((code & 0x0F) << 4) + np.where(segment == 0, 8, 0x108)
    magnitude = magnitude << np.maximum(segment - 1, 0)
    return np.where(code & 0x80, magnitude, -magnitude).astype("<i2")


_ULAW_FROM_PCM = _ulaw_encode_table()
_PCM_FROM_ULAW = _ulaw_decode_table()
_ALAW_FROM_PCM = _alaw_encode_table()
_PCM_FROM_ALAW = _alaw_decode_table()


def _encode(pcm16: bytes, table: np.ndarray) -> bytes:
    if len(pcm16) % 2:
        raise ValueError(f"PCM16 audio has an odd length ({len(pcm16)} bytes)")
    index = np.frombuffer(pcm16, dtype="<i2").astype(np.int32) + 32768
    return table[index].tobytes()


def ulaw_from_pcm16(pcm16: bytes) -> bytes:
    """PCM16 little-endian samples to μ-law codes (one byte each)."""
    return _encode(pcm16, _ULAW_FROM_PCM)


def pcm16_from_ulaw(codes: bytes) -> bytes:
    """μ-law codes to PCM16 little-endian samples."""
    return _PCM_FROM_ULAW[np.frombuffer(codes, dtype=np.uint8)].tobytes()


def alaw_from_pcm16(pcm16: bytes) -> bytes:
    """PCM16 little-endian samples to A-law codes (one byte each)."""
    return _encode(pcm16, _ALAW_FROM_PCM)


def pcm16_from_alaw(codes: bytes) -> bytes:
    """A-law codes to PCM16 little-endian samples."""
    return _PCM_FROM_ALAW[np.frombuffer(codes, dtype=np.uint8)].tobytes()
