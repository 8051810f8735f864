"""Ctrl-C and SIGTERM during a conversation: the first asks for a clean end, the second stops at once.

SIGTERM is what systemd, `docker stop` and CI timeouts send; it is treated like Ctrl-C so
the transcript and report are finished either way, and the session's end reason says
which one it was ("interrupted" or "terminated"; the CLI exits 130 or 143).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any, Callable, Iterator

logger = logging.getLogger(__name__)

END_REASONS = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated"}
_AGAIN = {signal.SIGINT: "Ctrl-C again", signal.SIGTERM: "send SIGTERM again"}


class Interrupts:
    """The signal handler: sets `requested` first; the second time, `stop_now` (or cancels the task)."""

    def __init__(self, task: asyncio.Task[Any]) -> None:
        self.requested = asyncio.Event()
        self.signal: signal.Signals | None = None
        self.stop_now: Callable[[str], None] | None = None  # set once a session can be stopped cleanly
        self._task = task
        self._live: Any = None  # runner.run.conversation.LiveSession, once attached
        self._notify: Callable[[str], None] = lambda message: None

    @property
    def end_reason(self) -> str | None:
        """"interrupted" or "terminated" once a signal arrived, else None."""
        return END_REASONS[self.signal] if self.signal is not None else None

    @property
    def again_hint(self) -> str:
        """How to stop at once, for the message shown while the pending reply finishes."""
        return _AGAIN[self.signal or signal.SIGINT]

    def attach(self, live: Any, notify: Callable[[str], None]) -> None:
        """From now on the first signal names the session's end reason and says when a reply
        is still owed (`notify` gets the message); the second ends the session at once."""
        self._live = live
        self._notify = notify
        self.stop_now = live.stop_now
        if self.requested.is_set():  # a signal that came while the session was starting
            self._first_signal()

    def _first_signal(self) -> None:
        live = self._live
        live.end_reason = self.end_reason
        if live.core.busy and not live.driver.ended:
            self._notify(f"finishing the reply; {self.again_hint} to stop")

    def __call__(self, signum: signal.Signals) -> None:
        logger.info("received %s", signum.name)
        if not self.requested.is_set():
            self.signal = signum
            self.requested.set()
            if self._live is not None:
                self._first_signal()
        elif self.stop_now is not None:
            self.stop_now(END_REASONS[self.signal or signum])
        else:
            self._task.cancel()


@contextlib.contextmanager
def ctrl_c_ends_cleanly() -> Iterator[Interrupts]:
    """Install the SIGINT and SIGTERM handlers for the current task while the conversation runs."""
    loop = asyncio.get_running_loop()
    interrupts = Interrupts(asyncio.current_task())  # type: ignore[arg-type]
    installed = []
    for signum in END_REASONS:
        try:
            loop.add_signal_handler(signum, interrupts, signum)
            installed.append(signum)
        except (NotImplementedError, RuntimeError):  # not the main thread (tests), or no signals
            pass
    try:
        yield interrupts
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
