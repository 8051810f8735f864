"""Events from a `Player`'s callbacks, for tests that must act once audio has been played."""

from __future__ import annotations

import threading
from collections.abc import Callable


def played_reaches(frames: int) -> tuple[threading.Event, Callable[[bytes, float], None]]:
    """An `on_played` callback and the event it sets once `frames` frames have been played."""
    reached = threading.Event()
    played = 0

    def on_played(block: bytes, heard_at: float) -> None:
        nonlocal played
        played += len(block) // 2
        if played >= frames:
            reached.set()

    return reached, on_played
