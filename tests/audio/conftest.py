"""A private headless PulseAudio for the real-device tests (see pulse/start-pulse.sh).

PortAudio scans devices when sounddevice is imported, so the daemon must be up and
PULSE_SERVER exported before the first import; runner.audio imports sounddevice lazily
for this reason. Without pulseaudio the device tests are skipped, except on CI, where
that would hide the real audio path, so they fail.
"""

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

PULSE_SCRIPTS = Path(__file__).resolve().parent / "pulse"
PULSE_TOOLS = ("pulseaudio", "pactl", "paplay", "parecord", "parec")
INSTALL_HINT = "apt-get install pulseaudio pulseaudio-utils libasound2-plugins libportaudio2"


@pytest.fixture(scope="session")
def headless_pulse():
    """The daemon's directory; sinks: `spk` (play; record `spk.monitor`), `micsink` (feeds source `mic`)."""
    missing = [tool for tool in PULSE_TOOLS if shutil.which(tool) is None]
    if missing:
        message = f"headless audio tests need {', '.join(missing)}: {INSTALL_HINT}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    if "sounddevice" in sys.modules:
        pytest.fail("sounddevice was imported before the headless PulseAudio started; import it lazily")
    directory = tempfile.mkdtemp(prefix="runner-pulse.", dir="/tmp")
    started = subprocess.run(
        [str(PULSE_SCRIPTS / "start-pulse.sh"), directory], capture_output=True, text=True, check=False
    )
    if started.returncode != 0:
        subprocess.run([str(PULSE_SCRIPTS / "stop-pulse.sh"), directory], check=False)
        pytest.fail(f"the headless PulseAudio did not start:\n{started.stderr}")
    saved = dict(os.environ)
    for assignment in shlex.split(started.stdout.split("export ", 1)[1]):
        name, value = assignment.split("=", 1)
        os.environ[name] = value
    try:
        yield Path(directory)
    finally:
        subprocess.run([str(PULSE_SCRIPTS / "stop-pulse.sh"), directory], check=False)
        os.environ.clear()
        os.environ.update(saved)
