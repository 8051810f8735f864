"""Run the installed `runner` console script as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

RUNNER = Path(sys.executable).parent / "runner"
FIXTURES = Path(__file__).parent / "fixtures"


def run_runner(*args: str, cwd: Path = FIXTURES, path_env: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if path_env is not None:
        env["PATH"] = path_env
    return subprocess.run([str(RUNNER), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def runner() -> Callable[..., subprocess.CompletedProcess[str]]:
    return run_runner


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES
