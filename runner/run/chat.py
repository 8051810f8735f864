"""`runner run --text`: typed (or piped) turns in, streamed text replies out.

In a terminal the lines are read with readline (prompt, editing, history: `line_input.py`);
from a pipe they are read as they come.  Ctrl-C, SIGTERM or the end of standard input
ends the session after the pending reply; a second signal stops at once (`interrupts.py`).
Either way the artifacts are closed and the report written, because the conversation
(`runner.Host.open`, the public embedding API) owns them.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Mapping, TextIO

import runner

from .console import Console
from .interrupts import Interrupts, ctrl_c_ends_cleanly
from .line_input import TerminalLines, lines_from

__all__ = ["Opening", "lines_from", "run_text"]


@dataclass
class Opening:
    """What `runner run` asks `Host.open` for, typed or spoken."""

    variables: Mapping[str, Any] = field(default_factory=dict)
    session_dir: Path | None = None  # parent of the per-session folders
    start: str | None = None  # start agent override

    def where(self, transport: Any) -> str:
        return "offline simulator" if isinstance(transport, runner.SimulatorTransport) else "Realtime API"


class TypedAhead:
    """Piped lines, read from the start: input that ends with nothing typed stops the setup too."""

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


async def _talk(live: runner.Conversation, lines: AsyncIterator[str], interrupts: Interrupts) -> None:
    feeding = asyncio.ensure_future(live.driver.converse(lines))
    stopping = asyncio.ensure_future(interrupts.requested.wait())
    ending = asyncio.ensure_future(live.driver.wait_ended())
    await asyncio.wait({feeding, stopping, ending}, return_when=asyncio.FIRST_COMPLETED)
    for task in (feeding, stopping, ending):
        task.cancel()


async def run_text(
    project: runner.Project,
    transport: Any,
    opening: Opening,
    *,
    console: Console,
    lines: AsyncIterator[str] | None = None,
    status: TextIO = sys.stderr,
    colour: bool = True,
) -> tuple[Path, runner.Outcome]:
    """Hold a text conversation; returns the session folder and how it ended.

    Without `lines`, standard input is read: through readline when it and standard
    output are a terminal, else line by line.
    """
    terminal = None
    if lines is None:
        if sys.stdin.isatty() and sys.stdout.isatty():
            terminal = TerminalLines(sys.stdin, sys.stdout, colour=colour)
            console.attach_prompt(terminal)
        else:
            lines = lines_from(sys.stdin)

    def notify(message: str) -> None:
        if terminal is not None:
            terminal.hide()
        print(f"runner: {message}", file=status, flush=True)

    try:
        with ctrl_c_ends_cleanly() as interrupts:
            stop_setup: tuple[asyncio.Event, ...] = (interrupts.requested,)
            if lines is not None:
                typed = TypedAhead(lines)
                lines = typed.lines()
                stop_setup += (typed.nothing_to_say,)
            async with runner.Host(project, transport=transport, max_conversations=1) as host, host.open(
                variables=opening.variables, session_dir=opening.session_dir, start=opening.start, text=True,
                on_record=console.record, on_event=console.event, stop_setup=stop_setup, records=False,
            ) as live:
                interrupts.attach(live, notify)
                notify(f"talking to {project.name} ({live.core.active_agent}) on the {opening.where(transport)}; end with Ctrl-D or Ctrl-C")
                if terminal is not None:
                    lines = terminal.lines(ready=live.driver.wait_idle)
                assert lines is not None
                await _talk(live, lines, interrupts)
    finally:
        console.close()
        if terminal is not None:
            terminal.close()
    assert live.outcome is not None
    return live.folder, live.outcome
