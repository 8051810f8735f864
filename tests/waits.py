"""The one bounded wait on a condition that emits no event (a file growing, audio reaching a sink).

Everything that does emit an event (a line on a pipe, a callback, a process exiting) is
waited on directly; this is for the rest. It polls with a deadline and fails naming what
did not happen, so a slow machine makes a test slower, not wrong, and a broken one fails
with a message instead of a hang.
"""

from __future__ import annotations

import time
from collections.abc import Callable

POLL_SECONDS = 0.01


def wait_until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    """Return once `predicate()` is true; raise AssertionError naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(POLL_SECONDS)
