"""Sync tool calls run on reused daemon workers; a call abandoned at its timeout gives its place to a fresh one."""

from __future__ import annotations

import asyncio
import threading

import pytest

from runner.bindings.threads import PoolExhausted, ToolThreads


def test_calls_one_after_another_reuse_one_worker_thread() -> None:
    async def main() -> set[str]:
        threads = ToolThreads(max_workers=4, max_abandoned=2)
        return {await threads.run(lambda: threading.current_thread().name) for _ in range(20)}

    names = asyncio.run(main())
    assert len(names) == 1 and threading.current_thread().name not in names


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
