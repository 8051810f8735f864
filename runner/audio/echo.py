"""Echo control for people without headphones: keep the agent from interrupting itself.

Without echo cancellation the microphone hears the agent's own voice, server VAD takes
it for the user and the agent barges in on itself. Both policies here watch what the
`Player` hands out (`note_played`, fed from `Player(on_played=...)`) and decide per mic
block (`admit`) whether it may be sent:

- `EchoGate` (the default): while the agent is audible, a mic block passes only when it
  is clearly louder (by `margin_db`) than the loudest recently played block.
- `HalfDuplex` (`--half-duplex`): while the agent is audible, the mic is muted.
"""

from __future__ import annotations

import threading
from collections import deque

from runner.audio.pcm import SAMPLE_BYTES, SAMPLE_RATE, rms


class PlaybackLevels:
    """The RMS of recently played blocks, by the time they were heard (thread-safe)."""

    def __init__(self, *, window_ms: float, rate: int = SAMPLE_RATE) -> None:
        self._window = window_ms / 1000
        self._rate = rate
        self._lock = threading.Lock()
        self._blocks: deque[tuple[float, float, float]] = deque()  # (heard from, heard until, rms)

    def note_played(self, pcm: bytes, heard_at: float) -> None:
        """Remember a block the listener hears from `heard_at` on."""
        until = heard_at + len(pcm) / (SAMPLE_BYTES * self._rate)
        with self._lock:
            self._blocks.append((heard_at, until, rms(pcm)))
            while self._blocks and self._blocks[0][1] < until - 2 * self._window:
                self._blocks.popleft()

    def loudest(self, start: float, end: float) -> float | None:
        """The loudest block heard between `start - window` and `end`; None if none was."""
        since = start - self._window
        with self._lock:
            levels = [level for heard_from, heard_until, level in self._blocks if heard_until > since and heard_from < end]
        return max(levels) if levels else None


def _span(pcm: bytes, at: float, rate: int) -> tuple[float, float]:
    return at, at + len(pcm) / (SAMPLE_BYTES * rate)


class EchoGate:
    """Send mic audio during playback only when it is clearly louder than the playback.

    `window_ms` covers the output latency and the room's echo tail: a block played that
    long before the mic block still counts as audible. `output_rate` and `input_rate`
    are the sample rates of the played and the captured blocks (the session's formats).
    """

    def __init__(
        self, *, margin_db: float = 6.0, window_ms: float = 300.0, output_rate: int = SAMPLE_RATE, input_rate: int = SAMPLE_RATE
    ) -> None:
        self._factor = 10 ** (margin_db / 20)
        self._levels = PlaybackLevels(window_ms=window_ms, rate=output_rate)
        self._input_rate = input_rate

    def note_played(self, pcm: bytes, heard_at: float) -> None:
        self._levels.note_played(pcm, heard_at)

    def admit(self, pcm: bytes, captured_at: float) -> bool:
        """True if this mic block may be sent to the model."""
        played = self._levels.loudest(*_span(pcm, captured_at, self._input_rate))
        return played is None or rms(pcm) >= played * self._factor


class HalfDuplex:
    """Mute the mic while the agent is audible (and for `window_ms` after)."""

    def __init__(self, *, window_ms: float = 300.0, output_rate: int = SAMPLE_RATE, input_rate: int = SAMPLE_RATE) -> None:
        self._levels = PlaybackLevels(window_ms=window_ms, rate=output_rate)
        self._input_rate = input_rate

    def note_played(self, pcm: bytes, heard_at: float) -> None:
        self._levels.note_played(pcm, heard_at)

    def admit(self, pcm: bytes, captured_at: float) -> bool:
        """True if this mic block may be sent to the model."""
        return self._levels.loudest(*_span(pcm, captured_at, self._input_rate)) is None
