"""Daemon threads for sync tool functions, so a call stuck past its timeout cannot hold the process or the pool."""

from __future__ import annotations

import asyncio
import itertools
import threading
from dataclasses import dataclass
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
    """Runs sync calls, at most `max_workers` at once, each on its own daemon thread.

    A thread cannot be killed. A call whose awaiting task is cancelled (its timeout) is
    abandoned: the thread runs on, its result is dropped, and it no longer counts
    against `max_workers`, so stuck calls do not starve later ones. Being a daemon, it
    does not keep the process alive at exit. At most `max_abandoned` threads may be
    abandoned at once; past that, new calls raise `PoolExhausted` instead of piling up.
    """

    def __init__(self, max_workers: int, max_abandoned: int, *, name_prefix: str = "runner-tool") -> None:
        self._slots = asyncio.Semaphore(max_workers)
        self._max_abandoned = max_abandoned
        self._name_prefix = name_prefix
        self._lock = threading.Lock()
        self._abandoned = 0

    @property
    def abandoned(self) -> int:
        """Calls given up on whose threads are still running."""
        with self._lock:
            return self._abandoned

    async def run(self, function: Callable[[], Any]) -> Any:
        """Call `function()` on a new daemon thread and return (or raise) what it did."""
        async with self._slots:
            abandoned = self.abandoned
            if abandoned >= self._max_abandoned:
                raise PoolExhausted(abandoned)
            loop = asyncio.get_running_loop()
            future: asyncio.Future[tuple[bool, Any]] = loop.create_future()
            call = _Call()
            name = f"{self._name_prefix}-{next(_names)}"
            threading.Thread(target=self._work, args=(function, loop, future, call), name=name, daemon=True).start()
            try:
                succeeded, value = await future
            except asyncio.CancelledError:
                with self._lock:
                    if not call.finished:
                        call.abandoned = True
                        self._abandoned += 1
                raise
        if not succeeded:
            raise value
        return value

    def _work(self, function: Callable[[], Any], loop: asyncio.AbstractEventLoop, future: asyncio.Future[tuple[bool, Any]], call: _Call) -> None:
        try:
            outcome: tuple[bool, Any] = (True, function())
        except BaseException as exc:  # the tool's own SystemExit or KeyboardInterrupt is its result too
            outcome = (False, exc)
        with self._lock:
            call.finished = True
            if call.abandoned:
                self._abandoned -= 1
                return
        try:
            loop.call_soon_threadsafe(_settle, future, outcome)
        except RuntimeError:  # the loop has closed: nobody is waiting any more
            pass


def _settle(future: asyncio.Future[tuple[bool, Any]], outcome: tuple[bool, Any]) -> None:
    if not future.done():
        future.set_result(outcome)
