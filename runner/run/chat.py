"""`runner run --text`: typed (or piped) turns in, streamed text replies out.

Ctrl-C or the end of standard input ends the session after the pending reply; a
second Ctrl-C stops at once (`interrupts.py`).  Either way the artifacts are closed and the report
written, because `open_session` owns them.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path
from typing import AsyncIterator, TextIO

from ..config.model import Config
from .console import Console
from ..host.conversation import LiveSession, RunOptions, open_session
from ..host.driver import Outcome
from .interrupts import Interrupts, ctrl_c_ends_cleanly


async def lines_from(stream: TextIO) -> AsyncIterator[str]:
    """Lines of a blocking stream, read on a daemon thread so the event loop never blocks."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def pump() -> None:
        try:
            for line in stream:
                loop.call_soon_threadsafe(queue.put_nowait, line.rstrip("\n"))
            loop.call_soon_threadsafe(queue.put_nowait, None)
        except RuntimeError:  # the loop closed first (the session could not start): nobody is listening
            pass

    threading.Thread(target=pump, name="stdin-reader", daemon=True).start()
    while (line := await queue.get()) is not None:
        yield line


class TypedAhead:
    """Typed lines, read from the start: input that ends with nothing typed stops the setup too."""

    def __init__(self, lines: AsyncIterator[str]) -> None:
        self.nothing_to_say = asyncio.Event()
        self._rest = lines
        self._first = asyncio.ensure_future(anext(lines, None))
        self._first.add_done_callback(self._first_read)

    def _first_read(self, first: asyncio.Future[str | None]) -> None:
        if not first.cancelled() and first.exception() is None and first.result() is None:
            self.nothing_to_say.set()

    async def lines(self) -> AsyncIterator[str]:
        first = await self._first
        if first is None:
            return
        yield first
        async for line in self._rest:
            yield line


async def _talk(live: LiveSession, lines: AsyncIterator[str], interrupts: Interrupts) -> None:
    feeding = asyncio.ensure_future(live.driver.converse(lines))
    stopping = asyncio.ensure_future(interrupts.requested.wait())
    ending = asyncio.ensure_future(live.driver.wait_ended())
    await asyncio.wait({feeding, stopping, ending}, return_when=asyncio.FIRST_COMPLETED)
    for task in (feeding, stopping, ending):
        task.cancel()


async def run_text(config: Config, options: RunOptions, *, console: Console, lines: AsyncIterator[str], status: TextIO = sys.stderr) -> tuple[Path, Outcome]:
    """Hold a text conversation; returns the session folder and how it ended."""
    try:
        with ctrl_c_ends_cleanly() as interrupts:
            typed = TypedAhead(lines)
            stop_setup = (interrupts.requested, typed.nothing_to_say)
            async with open_session(config, options, on_record=console.record, on_event=console.event, stop_setup=stop_setup) as live:
                where = "offline simulator" if options.offline else "Realtime API"
                print(f"runner: talking to {config.name} ({live.core.active_agent}) on the {where}; end with Ctrl-D or Ctrl-C", file=status)
                await _talk(live, typed.lines(), interrupts)
    finally:
        console.close()
    return live.folder, live.outcome
