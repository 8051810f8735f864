"""Helpers for tests on the headless PulseAudio (the daemon itself is in tests/conftest.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping


@contextmanager
def speaker_capture(path: Path, env: Mapping[str, str] | None = None) -> Iterator[None]:
    """Record what reaches the virtual speaker (spk.monitor) into a WAV while the block runs."""
    recorder = subprocess.Popen(
        ["parecord", "-d", "spk.monitor", "--rate=24000", "--channels=1", "--format=s16le", "--file-format=wav", str(path)],
        env=dict(env if env is not None else os.environ),
    )
    time.sleep(0.3)  # let parecord connect before anything is played
    try:
        yield
    finally:
        time.sleep(0.3)
        recorder.send_signal(signal.SIGINT)  # parecord finalises the header on SIGINT
        recorder.wait(timeout=10)
