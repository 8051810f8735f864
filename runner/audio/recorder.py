"""The session recording: one stereo WAV, the user on the left, the agent on the right.

Both sides are placed by the time they were captured or heard on the one session clock,
so gaps, overlaps and barge-ins look in the file as they sounded. The agent side gets
only what the `Player` handed out (`Player(on_played=recorder.add_agent)`), so an
interrupted reply ends where playback stopped. Blocks arrive from audio threads; the
driver calls `flush(now)` every few hundred milliseconds to write what can no longer
change, through a `WavWriter`, so the file is valid after Ctrl-C.

The file's rate is the higher of the two sides' (the session's input and output
formats); a side at a lower rate (8 kHz G.711 beside 24 kHz PCM) is interpolated up.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from runner.audio.pcm import SAMPLE_RATE, frames_for_ms, samples
from runner.audio.wav import WavWriter

USER, AGENT = 0, 1  # channel index: left, right


class _Upsampler:
    """Linear interpolation by a whole factor, continued from the previous block's last sample.

    Blocks join without clicks at the cost of one input sample of delay; enough for a
    recording of telephone-band audio, which has nothing above 4 kHz to alias.
    """

    def __init__(self, factor: int) -> None:
        self.factor = factor
        self._last = 0.0

    def __call__(self, block: np.ndarray) -> np.ndarray:
        if self.factor == 1 or block.size == 0:
            return block
        points = np.concatenate([[self._last], block.astype(np.float64)])
        self._last = float(points[-1])
        positions = np.arange(1, block.size * self.factor + 1) / self.factor
        return np.round(np.interp(positions, np.arange(points.size), points)).astype("<i2")


class Recorder:
    """Stereo recording on the clock whose time `origin` is the file's first frame.

    A block that starts within `snap_ms` of where the previous block of its side ended
    is placed right after it, so clock jitter does not add clicks; further away, it is
    placed at its own time. `horizon_ms` is how late a block may arrive and still be
    placed: `flush(now)` writes only what is older than that. `user_rate` and
    `agent_rate` are the rates of the blocks each side hands in.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        origin: float,
        snap_ms: float = 30.0,
        horizon_ms: float = 500.0,
        user_rate: int = SAMPLE_RATE,
        agent_rate: int = SAMPLE_RATE,
    ) -> None:
        self.rate = max(user_rate, agent_rate)
        if self.rate % user_rate or self.rate % agent_rate:
            raise ValueError(f"cannot record {user_rate} Hz beside {agent_rate} Hz: one must divide the other")
        self._upsample = [_Upsampler(self.rate // user_rate), _Upsampler(self.rate // agent_rate)]
        self._writer = WavWriter(path, channels=2, rate=self.rate)
        self._origin = origin
        self._snap = frames_for_ms(snap_ms, self.rate)
        self._horizon = horizon_ms / 1000
        self._lock = threading.Lock()
        self._pending: list[tuple[int, int, np.ndarray]] = []  # (channel, first frame, samples)
        self._next_frame = [0, 0]  # per channel: where the previous block ended
        self.late_frames = 0  # frames that arrived after their place was written

    @property
    def frames_written(self) -> int:
        return self._writer.frames

    def add_user(self, pcm: bytes, captured_at: float) -> None:
        """A mic block whose first sample was captured at `captured_at`."""
        self._add(USER, pcm, captured_at)

    def add_agent(self, pcm: bytes, heard_at: float) -> None:
        """A played block whose first sample is heard at `heard_at`."""
        self._add(AGENT, pcm, heard_at)

    def flush(self, now: float) -> None:
        """Write everything before `now - horizon`."""
        self._write_until(round((now - self._horizon - self._origin) * self.rate))

    def close(self) -> None:
        """Write everything still pending and close the file."""
        with self._lock:
            end = max((start + len(block) for _, start, block in self._pending), default=0)
        self._write_until(end)
        self._writer.close()

    def _add(self, channel: int, pcm: bytes, at: float) -> None:
        start = round((at - self._origin) * self.rate)
        with self._lock:
            expected = self._next_frame[channel]
            if abs(start - expected) <= self._snap:
                start = expected
            block = self._upsample[channel](samples(pcm))
            self._next_frame[channel] = start + len(block)
            self._pending.append((channel, start, block))

    def _write_until(self, end: int) -> None:
        """Called from one thread only (the driver's), so the writer needs no lock."""
        with self._lock:
            begin = self._writer.frames
            if end <= begin:
                return
            stereo = np.zeros((end - begin, 2), dtype="<i2")
            keep = []
            for channel, start, block in self._pending:
                if start < begin:
                    late = min(begin - start, len(block))
                    self.late_frames += late
                    start, block = begin, block[late:]
                if start < end and len(block):
                    n = min(len(block), end - start)
                    stereo[start - begin : start - begin + n, channel] = block[:n]
                    start, block = start + n, block[n:]
                if len(block):
                    keep.append((channel, start, block))
            self._pending = keep
        self._writer.write(stereo.tobytes())  # outside the lock: audio threads keep adding
