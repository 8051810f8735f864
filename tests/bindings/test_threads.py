"""Sync tool calls run on reused daemon workers; a call abandoned at its timeout gives its place to a fresh one."""

from __future__ import annotations

import asyncio
import threading

import pytest

from runner.bindings.threads import PoolExhausted, ToolThreads


def test_calls_one_after_another_go_to_the_worker_freed_last_and_its_spare_is_left_asleep() -> None:
    """Each idle worker waits on its own inbox: one shared queue woke a second worker at every call."""

    async def main() -> tuple[list[str], int]:
        threads = ToolThreads(max_workers=4, max_abandoned=2)
        names = [await threads.run(lambda: threading.current_thread().name) for _ in range(20)]
        return names, threads._started

    names, started = asyncio.run(main())
    assert len(set(names)) == 1 and threading.current_thread().name not in names
    assert started == 2  # the worker and the spare it started


def test_after_the_first_call_the_event_loop_starts_no_thread_while_a_spare_keeps_ahead() -> None:
    """Thread.start waits for the new thread to run: on the loop, under load, that stalled every conversation."""
    started_on_the_loop: list[str] = []
    real_start = threading.Thread.start

    def start(thread: threading.Thread) -> None:
        if threading.current_thread() is threading.main_thread():
            started_on_the_loop.append(thread.name)
        real_start(thread)

    async def main() -> int:
        threads = ToolThreads(max_workers=8, max_abandoned=2)
        for at_once in (1, 2, 3, 4):  # one more concurrent call each time: the spare takes it
            together = threading.Barrier(at_once, timeout=10)
            await asyncio.gather(*(threads.run(together.wait) for _ in range(at_once)))
        return threads._started

    threading.Thread.start = start  # type: ignore[method-assign]
    try:
        started = asyncio.run(main())
    finally:
        threading.Thread.start = real_start  # type: ignore[method-assign]
    assert len(started_on_the_loop) == 1  # the first call's worker; it and its successors start the rest
    assert started == 5  # four at most at once, and one spare


def test_a_call_abandoned_at_its_timeout_leaves_its_worker_and_the_next_call_runs_at_once() -> None:
    release = threading.Event()

    async def main() -> tuple[str, str, int]:
        threads = ToolThreads(max_workers=1, max_abandoned=2)
        stuck_on: list[str] = []

        def stuck() -> None:
            stuck_on.append(threading.current_thread().name)
            release.wait(30)

        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(threads.run(stuck), 0.05)
        after = await asyncio.wait_for(threads.run(lambda: threading.current_thread().name), 5)
        return stuck_on[0], after, threads.abandoned

    try:
        stuck_name, next_name, abandoned = asyncio.run(main())
    finally:
        release.set()
    assert next_name != stuck_name and abandoned == 1


def test_past_the_bound_of_abandoned_calls_new_calls_are_refused() -> None:
    release = threading.Event()

    async def main() -> None:
        threads = ToolThreads(max_workers=2, max_abandoned=1)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(threads.run(lambda: release.wait(30)), 0.05)
        with pytest.raises(PoolExhausted, match="1 calls that ran past their timeout are still running"):
            await threads.run(lambda: None)

    try:
        asyncio.run(main())
    finally:
        release.set()
