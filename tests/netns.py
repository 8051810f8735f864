"""Run WebRTC test cases inside a network namespace whose only interface is loopback.

ICE would otherwise probe every address the machine has. `run_cases(path)` re-runs
pytest on one case file under `unshare -n` (root only); the case files check that they
are inside such a namespace before anything connects (`require_loopback_only`).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_cases(case_file: str, *, timeout: float = 240) -> None:
    """Run `case_file`'s tests in a fresh loopback-only namespace; fail with their output."""
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.skip("WebRTC tests need root, unshare and ip to run in a loopback-only network namespace")
    command = f"ip link set lo up && exec {sys.executable} -m pytest {case_file} -q -p no:cacheprovider"
    result = subprocess.run(["unshare", "-n", "sh", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{case_file} failed in the loopback namespace:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"


def require_loopback_only() -> None:
    """Refuse to run outside a namespace whose only interface is `lo`."""
    names = [name for _, name in socket.if_nameindex()]
    if names != ["lo"]:
        pytest.fail(f"WebRTC cases must run through tests/netns.py (interfaces here: {names})")
