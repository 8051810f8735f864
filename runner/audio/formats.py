"""The Realtime API's audio formats and the conversion between them and PCM16.

Inside `runner.audio` audio is always PCM16 mono, at the rate of the format on the wire:
24 kHz for `audio/pcm`, 8 kHz for `audio/pcmu` (G.711 μ-law) and `audio/pcma` (A-law).
Only the wire and files carry the encoded bytes, so a μ-law reply written to a μ-law
WAV is the service's bytes unchanged, and played milliseconds count samples at the
format's own rate.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from runner.audio import g711


def _same(pcm16: bytes) -> bytes:
    return pcm16


@dataclass(frozen=True, slots=True)
class AudioFormat:
    """One wire format: its GA `type`, sample rate, bytes per sample and WAV format tag."""

    type: str
    rate: int
    wire_bytes: int  # per sample on the wire and in a WAV file of this format
    wav_tag: int
    encode: Callable[[bytes], bytes]  # PCM16 at `rate` -> wire bytes
    decode: Callable[[bytes], bytes]  # wire bytes -> PCM16 at `rate`

    @property
    def label(self) -> str:
        return f"{self.type} {self.rate // 1000} kHz"

    def wire_ms(self, wire: bytes) -> float:
        """How long `wire` bytes of this format play, in milliseconds."""
        return len(wire) * 1000 / (self.wire_bytes * self.rate)


PCM = AudioFormat("audio/pcm", 24_000, 2, 0x0001, _same, _same)
PCMU = AudioFormat("audio/pcmu", 8_000, 1, 0x0007, g711.ulaw_from_pcm16, g711.pcm16_from_ulaw)
PCMA = AudioFormat("audio/pcma", 8_000, 1, 0x0006, g711.alaw_from_pcm16, g711.pcm16_from_alaw)
FORMATS = {audio_format.type: audio_format for audio_format in (PCM, PCMU, PCMA)}


def audio_format(spec: str | Mapping[str, Any]) -> AudioFormat:
    """The format named by a config value (`audio/pcmu`) or a GA format object."""
    name = spec if isinstance(spec, str) else spec.get("type")
    if name not in FORMATS:
        raise ValueError(f"unknown audio format {name!r}; expected one of {', '.join(FORMATS)}")
    return FORMATS[name]


def session_object(audio_format: AudioFormat) -> dict[str, Any]:
    """The GA format object the service reports: PCM carries its (only) rate, G.711 none."""
    if audio_format is PCM:
        return {"type": PCM.type, "rate": PCM.rate}
    return {"type": audio_format.type}
