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
from pathlib import Path

import pytest

from tests.voice.helpers import AUDIO_TOOLS, need_tools


@pytest.fixture(scope="session")
def pulse_env(pulse_daemon: dict[str, str]) -> dict[str, str]:
    """The environment for processes that should use the shared headless PulseAudio."""
    need_tools(AUDIO_TOOLS)
    return {**os.environ, **pulse_daemon}


@pytest.fixture(scope="session")
def speech_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthesised speech for the whole session, under pytest's own (self-cleaning) temp folders."""
    need_tools(("espeak-ng", "sox"))
    return tmp_path_factory.mktemp("voice-speech")
