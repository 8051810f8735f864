"""The session recording: one stereo WAV, the user on the left, the agent on the right.

Both sides are placed by the time they were captured or heard on the one session clock,
so gaps, overlaps and barge-ins look in the file as they sounded. The agent side gets
only what the `Player` handed out (`Player(on_played=recorder.add_agent)`), so an
interrupted reply ends where playback stopped. Blocks arrive from audio threads; the
driver calls `flush(now)` every few hundred milliseconds to write what can no longer
change, through a `WavWriter`, so the file is valid after Ctrl-C.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from runner.audio.pcm import SAMPLE_RATE, frames_for_ms, samples
from runner.audio.wav import WavWriter

USER, AGENT = 0, 1  # channel index: left, right


class Recorder:
    """Stereo recording on the clock whose time `origin` is the file's first frame.

    A block that starts within `snap_ms` of where the previous block of its side ended
    is placed right after it, so clock jitter does not add clicks; further away, it is
    placed at its own time. `horizon_ms` is how late a block may arrive and still be
    placed: `flush(now)` writes only what is older than that.
    """

    def __init__(self, path: str | Path, *, origin: float, snap_ms: float = 30.0, horizon_ms: float = 500.0) -> None:
        self._writer = WavWriter(path, channels=2)
        self._origin = origin
        self._snap = frames_for_ms(snap_ms)
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
        self._write_until(round((now - self._horizon - self._origin) * SAMPLE_RATE))

    def close(self) -> None:
        """Write everything still pending and close the file."""
        with self._lock:
            end = max((start + len(block) for _, start, block in self._pending), default=0)
        self._write_until(end)
        self._writer.close()

    def _add(self, channel: int, pcm: bytes, at: float) -> None:
        start = round((at - self._origin) * SAMPLE_RATE)
        with self._lock:
            expected = self._next_frame[channel]
            if abs(start - expected) <= self._snap:
                start = expected
            block = samples(pcm)
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
