"""Daemon threads for sync tool functions, so a call stuck past its timeout cannot hold the process or the pool."""

from __future__ import annotations

import asyncio
import itertools
import queue
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

_names = itertools.count(1)


class PoolExhausted(Exception):
    """Too many abandoned calls are still running for another thread to be started."""

    def __init__(self, abandoned: int) -> None:
        super().__init__(f"{abandoned} calls that ran past their timeout are still running")
        self.abandoned = abandoned


@dataclass(slots=True)
class _Call:
    finished: bool = False
    abandoned: bool = False


class ToolThreads:
    """Runs sync calls, at most `max_workers` at once, on reused daemon worker threads.

    Starting a thread per call costs about a millisecond of a tool's dispatch, so idle
    workers wait for the next call, each on its own inbox: a call wakes only the worker it
    is handed to (the last one freed).  With one queue shared by the idle workers, the
    worker taking a call woke another, which took the GIL only to sleep again.  A worker
    that takes the last idle place starts a spare from its own thread (up to `max_workers`
    threads in all): `Thread.start` waits until the new thread runs, which, done on the
    event loop under load, stalled every conversation of the process (19 ms seen with 20
    browser calls).

    A thread cannot be killed: a call whose awaiting task is cancelled (its timeout) is
    abandoned. Its worker runs on, its result is dropped, and it no longer counts against
    `max_workers` (a fresh worker takes the next call), so stuck calls do not starve later
    ones; being a daemon, it does not keep the process alive at exit. At most `max_abandoned` calls may be abandoned at once; past that, new
    calls raise `PoolExhausted` instead of piling up.
    """

    def __init__(self, max_workers: int, max_abandoned: int, *, name_prefix: str = "runner-tool") -> None:
        self._slots = asyncio.Semaphore(max_workers)
        self._max_workers = max_workers
        self._max_abandoned = max_abandoned
        self._name_prefix = name_prefix
        self._lock = threading.Lock()
        self._abandoned = 0
        self._idle: list[queue.SimpleQueue[_Job]] = []  # the inboxes of workers no call has claimed yet, last freed last
        self._started = 0  # worker threads started, all still alive (a worker never ends)

    @property
    def abandoned(self) -> int:
        """Calls given up on whose threads are still running."""
        with self._lock:
            return self._abandoned

    async def run(self, function: Callable[[], Any]) -> Any:
        """Call `function()` on a worker thread and return (or raise) what it did."""
        async with self._slots:
            abandoned = self.abandoned
            if abandoned >= self._max_abandoned:
                raise PoolExhausted(abandoned)
            loop = asyncio.get_running_loop()
            job = _Job(function, loop, loop.create_future())
            self._submit(job)
            try:
                succeeded, value = await job.future
            except asyncio.CancelledError:
                with self._lock:
                    if not job.call.finished:
                        job.call.abandoned = True
                        self._abandoned += 1
                raise
        if not succeeded:
            raise value
        return value

    def _submit(self, job: _Job) -> None:
        with self._lock:
            inbox = self._idle.pop() if self._idle else None
            if inbox is None:
                self._started += 1
        if inbox is not None:
            inbox.put(job)
        else:
            self._start(job, queue.SimpleQueue())

    def _start(self, job: _Job | None, inbox: queue.SimpleQueue[_Job]) -> None:
        threading.Thread(target=self._worker, args=(job, inbox), name=f"{self._name_prefix}-{next(_names)}", daemon=True).start()

    def _keep_a_spare(self) -> None:
        """Start an idle worker, from this worker's thread, when no other is idle (see the class's docstring)."""
        with self._lock:
            if self._idle or self._started >= self._max_workers:
                return
            self._started += 1
            inbox: queue.SimpleQueue[_Job] = queue.SimpleQueue()
            self._idle.append(inbox)  # counted now, so the next call hands it its job rather than start another
        self._start(None, inbox)

    def _worker(self, job: _Job | None, inbox: queue.SimpleQueue[_Job]) -> None:
        if job is None:  # a spare: idle from the start
            job = inbox.get()
        while True:
            self._keep_a_spare()
            try:
                outcome: tuple[bool, Any] = (True, job.function())
            except BaseException as exc:  # the tool's own SystemExit or KeyboardInterrupt is its result too
                outcome = (False, exc)
            with self._lock:
                job.call.finished = True
                wanted = not job.call.abandoned
                if not wanted:
                    self._abandoned -= 1
                self._idle.append(inbox)  # before the caller hears back, so its next call finds this worker idle
            if wanted:
                try:
                    job.loop.call_soon_threadsafe(_settle, job.future, outcome)
                except RuntimeError:  # the loop has closed: nobody is waiting any more
                    pass
            job = inbox.get()


@dataclass(slots=True)
class _Job:
    function: Callable[[], Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[tuple[bool, Any]]
    call: _Call = field(default_factory=_Call)


def _settle(future: asyncio.Future[tuple[bool, Any]], outcome: tuple[bool, Any]) -> None:
    if not future.done():
        future.set_result(outcome)
