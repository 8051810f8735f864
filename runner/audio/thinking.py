"""The thinking sound: a soft clip that fills the wait while a tool runs or a handoff is under way.

The core says when (`ThinkingStarted(agent)` / `ThinkingStopped()` records); the sinks we
play ourselves (the `Player` behind devices and WAV files, the Twilio sink) loop the clip
in the silence between, and only there: the agent's audio always wins, and the clip is
never counted as heard assistant audio. The clip is `builtin` (two soft tones, generated
here, so nothing is downloaded), a project's WAV (scaled down to the same low level when
louder), or nothing (`off`), chosen per agent by `thinking_sound`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from runner.audio.wav import load_pcm

if TYPE_CHECKING:
    from runner.config.model import Config

PERIOD_S = 1.4  # one pattern: a quiet lead-in (a fast tool stays silent), two tones, a rest
LEAD_IN_S = 0.3
TONES_HZ = (523.25, 659.25)  # C5 and E5: soft, and far from where a phone line or a speaker is weak
TONE_S = 0.14
GAP_S = 0.08
EDGE_S = 0.02  # raised-cosine attack and release: no clicks
LEVEL = 0.05  # peak, as a share of full scale: about -26 dBFS, well under the agent's voice


def builtin_clip(rate: int) -> bytes:
    """One period of the built-in pattern as PCM16 mono at `rate` (same samples every time)."""
    clip = np.zeros(round(PERIOD_S * rate))
    tone_frames, edge = round(TONE_S * rate), round(EDGE_S * rate)
    envelope = np.ones(tone_frames)
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, edge))
    envelope[:edge], envelope[-edge:] = ramp, ramp[::-1]
    start = round(LEAD_IN_S * rate)
    for frequency in TONES_HZ:
        t = np.arange(tone_frames) / rate
        clip[start : start + tone_frames] = np.sin(2 * np.pi * frequency * t) * envelope * LEVEL
        start += tone_frames + round(GAP_S * rate)
    return np.round(clip * 32767).astype("<i2").tobytes()


def wav_clip(path: str, rate: int) -> bytes:
    """A configured WAV as the clip: mono PCM16 at `rate`, scaled down to the built-in's peak if louder."""
    samples = np.frombuffer(load_pcm(path, rate), dtype="<i2").astype(np.float64)
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    limit = LEVEL * 32767
    if peak > limit:
        samples = samples * (limit / peak)
    return np.round(samples).astype("<i2").tobytes()


@dataclass(frozen=True)
class ThinkingSounds:
    """Each agent's clip at one sample rate (None: `off`), decoded before the conversation starts."""

    clips: Mapping[str, bytes | None]

    @classmethod
    def for_config(cls, config: Config, rate: int) -> ThinkingSounds:
        """Every agent's clip; a WAV that cannot be decoded raises `WavError` naming the file."""
        decoded: dict[str, bytes | None] = {}
        clips: dict[str, bytes | None] = {}
        for name, agent in config.agents.items():
            choice = config.thinking_sound_for(agent)
            if choice not in decoded:
                decoded[choice] = None if choice == "off" else (builtin_clip(rate) if choice == "builtin" else wav_clip(choice, rate)) or None
            clips[name] = decoded[choice]
        return cls(clips)

    def clip(self, agent: str) -> bytes | None:
        return self.clips.get(agent)


class ClipLoop:
    """The clip played round and round from its start: `take(frames)` gives the next frames
    (`sample_bytes` each: 2 for PCM16, 1 for G.711)."""

    def __init__(self, clip: bytes, sample_bytes: int = 2) -> None:
        self._clip = clip
        self._sample_bytes = sample_bytes
        self._offset = 0

    def take(self, frames: int) -> bytes:
        wanted = frames * self._sample_bytes
        parts: list[bytes] = []
        while wanted > 0:
            part = self._clip[self._offset : self._offset + wanted]
            parts.append(part)
            wanted -= len(part)
            self._offset = (self._offset + len(part)) % len(self._clip)
        return b"".join(parts)
