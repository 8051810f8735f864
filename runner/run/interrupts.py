"""Ctrl-C during a conversation: the first asks for a clean end, the second stops at once."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Any, Iterator


class Interrupts:
    """The SIGINT handler: sets `requested` first, cancels the conversation task the second time."""

    def __init__(self, task: asyncio.Task[Any]) -> None:
        self.requested = asyncio.Event()
        self._task = task

    def __call__(self) -> None:
        if self.requested.is_set():
            self._task.cancel()
        self.requested.set()


@contextlib.contextmanager
def ctrl_c_ends_cleanly() -> Iterator[Interrupts]:
    """Install the handler for the current task while the conversation runs."""
    loop = asyncio.get_running_loop()
    interrupts = Interrupts(asyncio.current_task())  # type: ignore[arg-type]
    try:
        loop.add_signal_handler(signal.SIGINT, interrupts)
    except (NotImplementedError, RuntimeError):  # not the main thread (tests), or no signals
        pass
    try:
        yield interrupts
    finally:
        try:
            loop.remove_signal_handler(signal.SIGINT)
        except (NotImplementedError, RuntimeError):
            pass
