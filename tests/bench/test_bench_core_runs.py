"""The core benchmark replays the example through the real Session API: it must keep running
when that API changes (it broke once when `Session(audio=...)` became `output=`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_core.py"


def test_bench_core_runs_to_its_summary() -> None:
    finished = subprocess.run([sys.executable, str(BENCH)], capture_output=True, text=True, timeout=300, check=False)
    assert finished.returncode == 0, finished.stderr
    assert "tool call dispatch" in finished.stdout and "handoff" in finished.stdout
