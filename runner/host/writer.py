"""One background thread that writes every session's files in the process.

The event loop only appends to a session's pending queue.  While lines keep coming this
thread writes what each session has pending every `FLUSH_EVERY` seconds (or sooner, when
a queue fills up) and flushes it to the operating system.  Once a pass leaves nothing
pending it sleeps, untimed (`asleep`), and the first line of the next burst, from any
session, has it woken `FLUSH_EVERY` seconds later by a timer on that session's event loop
(`SessionArtifacts`, after `claim_wake`), or sooner, by that session as it goes quiet
(`SessionArtifacts.settle`: nothing owed or unsent, its turn is over).  A turn's dozens
of lines then cost one wake-up and one write per file: woken at the first line, then
once more to find nothing, it woke three times a turn (a lone 20-turn conversation: 61
wake-ups and 22 ms of this thread's CPU, against 22 and 10 ms with the timer alone).  Conversations talking at once share that wake-up rather
than arrange one each: fifty of them (bench_concurrency.py) woke it 45 times a second
with a timer per session, 14 now, and its CPU fell from 0.5 s to 0.3 s of the run's 5 s.
A SIGKILL loses at most the last `FLUSH_EVERY` seconds plus one write; a clean close
drains everything.

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
    def drain(self) -> bool:
        """Write and flush whatever is pending; whether there was anything. Called from the writer thread (or at close)."""

    def has_pending(self) -> bool:
        """Whether anything is queued; cheap, and safe from any thread."""


class Writer:
    """Drains the registered sessions' queues from one daemon thread, started on first use."""

    def __init__(self, every: float = FLUSH_EVERY) -> None:
        self.every = every
        self._sinks: dict[int, Drainable] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.asleep = False  # set by the thread before it waits untimed: a session's first queued line must have it woken
        self._wake_claimed = False  # a session has arranged this sleep's wake-up

    def add(self, sink: Drainable) -> None:
        """Register a session, which has nothing queued yet: a sleeping writer stays asleep until its first line."""
        with self._lock:
            self._sinks[id(sink)] = sink
            if self._thread is None or not self._thread.is_alive():  # also after a fork
                self._thread = threading.Thread(target=self._run, name="runner-artifacts", daemon=True)
                self._thread.start()

    def remove(self, sink: Drainable) -> None:
        with self._lock:
            self._sinks.pop(id(sink), None)

    def wake(self) -> None:
        """Write now (a queue is filling up, a session's timer is due, or a line came from outside an event loop)."""
        self.asleep = False  # the rest of a burst of lines need not wake it again
        self._wake.set()

    def claim_wake(self) -> bool:
        """Whether the caller is to have the sleeping writer woken (one interval on): True for the first line of a burst only.

        The claimant must wake it, by its timer or at once when it cancels the timer: the
        other sessions' lines wait on that wake-up.  Unlocked: event loops on two threads
        racing here can both claim, which costs one wake-up more, never a missed one."""
        if not self.asleep or self._wake_claimed:
            return False
        self._wake_claimed = True
        return True

    def drain_all(self) -> bool:
        """Write every session's pending lines (also at interpreter exit, for sessions never closed); whether there were any."""
        wrote = False
        for sink in self._sinks_now():
            try:
                wrote = sink.drain() or wrote
            except Exception:  # one session's broken disk must not keep the others' lines unwritten
                logger.exception("cannot write a session's artifacts")
        return wrote

    def _sinks_now(self) -> list[Drainable]:
        with self._lock:
            return list(self._sinks.values())

    def forget_after_fork(self) -> None:
        """A forked child has no writer thread and none of its parent's sessions."""
        self._sinks = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread = None
        self.asleep = False
        self._wake_claimed = False

    def _run(self) -> None:
        while True:
            if self._any_pending():
                self._wake.wait(self.every)  # a stream of lines: one write per interval, cut short by `wake`
            else:
                # `asleep` before the last look: a line queued after that look sees it and has us woken
                self._wake_claimed = False
                self.asleep = True
                if not self._any_pending():
                    self._wake.wait()
                self.asleep = False
            self._wake.clear()
            self.drain_all()

    def _any_pending(self) -> bool:
        return any(sink.has_pending() for sink in self._sinks_now())


WRITER = Writer()
atexit.register(WRITER.drain_all)
os.register_at_fork(after_in_child=WRITER.forget_after_fork)
