"""A private headless PulseAudio for the real-device tests (see pulse/start-pulse.sh).

PortAudio scans devices when sounddevice is imported, so the daemon must be up and
PULSE_SERVER exported before the first import; runner.audio imports sounddevice lazily
for this reason. Without pulseaudio the device tests are skipped, except on CI, where
that would hide the real audio path, so they fail.
"""

import os
import sys
from typing import Iterator

import pytest


@pytest.fixture(scope="session")
def headless_pulse(pulse_daemon: dict[str, str]) -> Iterator[None]:
    """This process talks to the shared daemon (tests/conftest.py) through os.environ."""
    if "sounddevice" in sys.modules:
        pytest.fail("sounddevice was imported before the headless PulseAudio started; import it lazily")
    saved = dict(os.environ)
    os.environ.update(pulse_daemon)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
