"""One background thread that writes every session's files in the process.

The event loop only appends to a session's pending queue; this thread wakes every
`FLUSH_EVERY` seconds (or sooner, when a queue fills up), writes what each session has
pending and flushes it to the operating system.  A SIGKILL therefore loses at most the
last `FLUSH_EVERY` seconds plus one write; a clean close drains everything.

One thread for all sessions, not one per session: hundreds of conversations in one
process then cost one wake-up per interval and no thread each, and the loop never waits
for a thread to start.  A session that writes slowly delays the others' writes, never
their conversations.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from typing import Protocol

FLUSH_EVERY = 0.1  # seconds between writes: the most a SIGKILL can lose, besides one write

logger = logging.getLogger(__name__)


class Drainable(Protocol):
    def drain(self) -> None:
        """Write and flush whatever is pending; called from the writer thread (or at close)."""


class Writer:
    """Drains the registered sessions' queues from one daemon thread, started on first use."""

    def __init__(self, every: float = FLUSH_EVERY) -> None:
        self.every = every
        self._sinks: dict[int, Drainable] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, sink: Drainable) -> None:
        with self._lock:
            self._sinks[id(sink)] = sink
            if self._thread is None or not self._thread.is_alive():  # also after a fork
                self._thread = threading.Thread(target=self._run, name="runner-artifacts", daemon=True)
                self._thread.start()
        self._wake.set()

    def remove(self, sink: Drainable) -> None:
        with self._lock:
            self._sinks.pop(id(sink), None)

    def wake(self) -> None:
        """Write now rather than at the next interval (a queue is filling up)."""
        self._wake.set()

    def drain_all(self) -> None:
        """Write every session's pending lines; at interpreter exit for sessions never closed."""
        with self._lock:
            sinks = list(self._sinks.values())
        for sink in sinks:
            try:
                sink.drain()
            except Exception:  # one session's broken disk must not keep the others' lines unwritten
                logger.exception("cannot write a session's artifacts")

    def forget_after_fork(self) -> None:
        """A forked child has no writer thread and none of its parent's sessions."""
        self._sinks = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread = None

    def _run(self) -> None:
        while True:
            with self._lock:
                idle = not self._sinks
            self._wake.wait(None if idle else self.every)
            self._wake.clear()
            self.drain_all()


WRITER = Writer()
atexit.register(WRITER.drain_all)
os.register_at_fork(after_in_child=WRITER.forget_after_fork)
