"""Energy-based voice activity detection for the simulator's server VAD.

The simulator cannot understand speech, but it can hear that someone is talking:
10 ms frames whose RMS exceeds a threshold for 100 ms start a turn, and a run of
quiet frames as long as `silence_duration_ms` ends it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FRAME_MS = 10
SAMPLES_PER_MS = 24
START_AFTER_MS = 100
RMS_AT_FULL_THRESHOLD = 0.04  # threshold 1.0 means an RMS of 4% of full scale


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    at_ms: int  # onset, in ms of all audio appended on this connection


@dataclass(frozen=True, slots=True)
class SpeechStopped:
    at_ms: int  # end of the last voiced frame


VadEvent = SpeechStarted | SpeechStopped


class EnergyVad:
    """Feed PCM16 24 kHz mono; get speech start/stop events with exact positions."""

    def __init__(self, *, threshold: float = 0.5, silence_duration_ms: int = 500) -> None:
        self.rms_threshold = max(threshold, 0.01) * RMS_AT_FULL_THRESHOLD
        self.silence_duration_ms = silence_duration_ms
        self.speaking = False
        self._position_ms = 0
        self._voiced_run_ms = 0
        self._quiet_run_ms = 0
        self._last_voiced_end_ms = 0
        self._pending = np.zeros(0, dtype=np.int16)

    def feed(self, pcm: bytes) -> list[VadEvent]:
        """Consume appended audio; events come out in the order they happened."""
        samples = np.frombuffer(pcm, dtype="<i2", count=len(pcm) // 2)
        if self._pending.size:
            samples = np.concatenate([self._pending, samples])
        frame = FRAME_MS * SAMPLES_PER_MS
        usable = len(samples) // frame * frame
        self._pending = samples[usable:].copy()
        if not usable:
            return []
        frames = samples[:usable].reshape(-1, frame).astype(np.float64)
        # The RMS of each frame, in fractions of full scale: one pass, no temporaries (this runs for every append)
        levels = (np.sqrt(np.einsum("ij,ij->i", frames, frames) / frame) / 32768.0).tolist()
        events: list[VadEvent] = []
        for level in levels:
            self._position_ms += FRAME_MS
            if level > self.rms_threshold:
                self._voiced_run_ms += FRAME_MS
                self._quiet_run_ms = 0
                self._last_voiced_end_ms = self._position_ms
                if not self.speaking and self._voiced_run_ms >= START_AFTER_MS:
                    self.speaking = True
                    events.append(SpeechStarted(self._position_ms - self._voiced_run_ms))
            else:
                self._voiced_run_ms = 0
                self._quiet_run_ms += FRAME_MS
                if self.speaking and self._quiet_run_ms >= self.silence_duration_ms:
                    self.speaking = False
                    events.append(SpeechStopped(self._last_voiced_end_ms))
        return events

    def reset(self) -> None:
        """Forget a turn in progress (the input buffer was cleared); positions keep counting."""
        self.speaking = False
        self._voiced_run_ms = 0
        self._quiet_run_ms = 0
