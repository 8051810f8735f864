"""The driver applies actions and runs its loops; the outgoing queue and the reconnect loop are modules of their own."""

from __future__ import annotations

from pathlib import Path

import runner.host

HOST = Path(runner.host.__file__).parent


def test_the_driver_stays_under_400_lines() -> None:
    lines = (HOST / "driver.py").read_text(encoding="utf-8").count("\n")
    assert lines < 400, f"runner/host/driver.py has {lines} lines"


def test_the_driver_reexports_the_names_the_host_and_channels_import() -> None:
    from runner.host import driver, reconnect, seams

    assert (driver.RECONNECT_DELAYS, driver.SETUP_TIMEOUT) == (reconnect.RECONNECT_DELAYS, reconnect.SETUP_TIMEOUT)
    assert (driver.Connection, driver.AudioOut) == (seams.Connection, seams.AudioOut)
