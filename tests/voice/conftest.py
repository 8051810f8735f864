"""The voice loop end to end: `runner run` as a subprocess on a headless PulseAudio.

The daemon comes from tests/audio/pulse/start-pulse.sh: the runner plays into the null
sink `spk` (captured from `spk.monitor` with parecord) and records from `mic`, which
hears whatever the test plays into `micsink` with paplay. The runner gets the PULSE_*
variables in its environment, so PortAudio finds the daemon when sounddevice is imported
there; this process never imports sounddevice. Without pulseaudio or espeak-ng the tests
are skipped, except on CI (CI=true), where that would hide the real audio path.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from tests.voice.helpers import AUDIO_TOOLS, PULSE_SCRIPTS, need_tools


@pytest.fixture(scope="session")
def pulse_env() -> Iterator[dict[str, str]]:
    """The environment for processes that should use the headless PulseAudio."""
    need_tools(AUDIO_TOOLS)
    directory = tempfile.mkdtemp(prefix="runner-voice-pulse.", dir="/tmp")
    started = subprocess.run([str(PULSE_SCRIPTS / "start-pulse.sh"), directory], capture_output=True, text=True, check=False)
    if started.returncode != 0:
        subprocess.run([str(PULSE_SCRIPTS / "stop-pulse.sh"), directory], check=False)
        pytest.fail(f"the headless PulseAudio did not start:\n{started.stderr}")
    env = dict(os.environ)
    for assignment in shlex.split(started.stdout.split("export ", 1)[1]):
        name, value = assignment.split("=", 1)
        env[name] = value
    try:
        yield env
    finally:
        subprocess.run([str(PULSE_SCRIPTS / "stop-pulse.sh"), directory], check=False)


@pytest.fixture(scope="session")
def speech_dir() -> Path:
    need_tools(("espeak-ng", "sox"))
    return Path(tempfile.mkdtemp(prefix="runner-voice-speech."))
