"""Helpers for tests on the headless PulseAudio (the daemon itself is in tests/conftest.py)."""

from __future__ import annotations

import os
import signal
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping

import numpy as np

from tests.waits import wait_until

RATE = 24000
WAV_HEADER_BYTES = 44  # parecord writes the header at once and finalises its sizes on SIGINT
TAIL_MS = 300  # recorded after the block, so what was played last has reached the file
CAPTURE_TIMEOUT = 30.0


class SpeakerCapture:
    """parecord on spk.monitor, writing `path`; readable while it records."""

    def __init__(self, path: Path, env: Mapping[str, str]) -> None:
        self.path = path
        self.recorder = subprocess.Popen(
            ["parecord", "-d", "spk.monitor", f"--rate={RATE}", "--channels=1", "--format=s16le", "--file-format=wav", str(path)],
            env=dict(env),
        )

    def recorded_bytes(self) -> int:
        """Bytes of audio in the file so far (the monitor of a null sink never stops: silence counts)."""
        assert self.recorder.poll() is None, f"parecord exited ({self.recorder.returncode}) while recording"
        return max(0, self.path.stat().st_size - WAV_HEADER_BYTES) if self.path.exists() else 0

    def recorded(self) -> np.ndarray:
        """The samples recorded so far, before parecord has finalised the header."""
        data = self.path.read_bytes()[WAV_HEADER_BYTES:]
        return np.frombuffer(data[: len(data) // 2 * 2], "<i2")

    def wait_recorded(self, ms: int, *, after: int = 0) -> None:
        """Wait until `ms` of audio beyond `after` bytes are in the file: that much monitor time has passed."""
        wanted = after + ms * RATE * 2 // 1000
        wait_until(lambda: self.recorded_bytes() >= wanted, CAPTURE_TIMEOUT, f"parecord to record {ms} ms from spk.monitor")

    def finish(self) -> None:
        self.recorder.send_signal(signal.SIGINT)  # parecord finalises the header on SIGINT
        self.recorder.wait(timeout=10)


@contextmanager
def speaker_capture(path: Path, env: Mapping[str, str] | None = None) -> Iterator[SpeakerCapture]:
    """Record what reaches the virtual speaker (spk.monitor) into a WAV while the block runs.

    Recording has begun before the block runs (audio is in the file), and the file holds
    TAIL_MS of the monitor's time after it, so nothing played in the block is cut off.
    """
    capture = SpeakerCapture(path, env if env is not None else os.environ)
    try:
        capture.wait_recorded(1)
        yield capture
        capture.wait_recorded(TAIL_MS, after=capture.recorded_bytes())
    finally:
        if capture.recorder.poll() is None:
            capture.finish()
