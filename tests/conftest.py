"""One headless PulseAudio daemon per test session, shared by tests/audio and tests/voice.

See tests/audio/pulse/start-pulse.sh: the null sink `spk` is what programs play into
(record it from `spk.monitor`), and the source `mic` hears what is played into
`micsink`. Without pulseaudio the audio tests are skipped, except on CI (CI=true),
where skipping would hide the real audio path, so they fail.
"""

import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

PULSE_SCRIPTS = Path(__file__).resolve().parent / "audio" / "pulse"
PULSE_TOOLS = ("pulseaudio", "pactl", "paplay", "parecord", "parec")
PULSE_INSTALL_HINT = "apt-get install pulseaudio pulseaudio-utils libasound2-plugins libportaudio2"


def require_tools(tools: tuple[str, ...], install_hint: str, purpose: str) -> None:
    """Skip when a tool is missing; fail instead on CI."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        message = f"{purpose} need {', '.join(missing)}: {install_hint}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def pulse_daemon() -> Iterator[dict[str, str]]:
    """Start the daemon; yields the PULSE_* variables that point a process at it."""
    require_tools(PULSE_TOOLS, PULSE_INSTALL_HINT, "headless audio tests")
    directory = tempfile.mkdtemp(prefix="runner-pulse.", dir="/tmp")
    started = subprocess.run([str(PULSE_SCRIPTS / "start-pulse.sh"), directory], capture_output=True, text=True, check=False)
    if started.returncode != 0:
        subprocess.run([str(PULSE_SCRIPTS / "stop-pulse.sh"), directory], check=False)
        pytest.fail(f"the headless PulseAudio did not start:\n{started.stderr}")
    variables = dict(assignment.split("=", 1) for assignment in shlex.split(started.stdout.split("export ", 1)[1]))
    try:
        yield variables
    finally:
        subprocess.run([str(PULSE_SCRIPTS / "stop-pulse.sh"), directory], check=False)
